/**
 * What the offline inference app needs besides MindSpore: command-line options, input shapes
 * that follow from file sizes, element types, the layout of the input files, and POSIX file
 * helpers (no std::filesystem, so that the GCC 7 of older Ascend toolkits builds it too).
 *
 * Every function that can fail returns false (or a non-empty message) and writes a one-line,
 * user-readable reason into *error.
 */
#ifndef MS_AUDIO_ZOO_INFER_UTILS_H_
#define MS_AUDIO_ZOO_INFER_UTILS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace infer {

/// Command-line options of the app (see Usage()).
struct Options {
  std::string mindir_path;     // exported model (.mindir)
  std::string input_path;      // folder of <n>.bin inputs, or of one <name>/<n>.bin folder per input
  std::string output_path;     // folder for the <n>_<k>.bin outputs
  std::string input_dims;      // e.g. "1,-1,80" or "1,-1;1,-1" (one per input): -1 follows from
                               // each file's size; "" = the model's
  std::string input_names;     // e.g. "waveform,padding_mask": the input folders; "" = the model's
  std::string input_types;     // e.g. "float32,int32"; "" = the model's (float32 before it is built)
  std::string precision_mode;  // Ascend precision mode; "" = the runtime's default
  uint32_t device_id = 0;
  bool help = false;
};

/// The usage text (flags, defaults, exit statuses).
std::string Usage(const std::string &program);

/// Parses ``--key=value`` and ``--key value`` flags into *options.
/// Returns "" on success, else what is wrong (unknown flag, missing value, missing required flag).
std::string ParseOptions(int argc, const char *const *argv, Options *options);

/// Parses "1,-1,80" into {1, -1, 80}; every entry is a positive integer or -1.
bool ParseDims(const std::string &text, std::vector<int64_t> *dims, std::string *error);

/// Parses "1,-1;1,-1" into one shape per input (see ParseDims).
bool ParseDimsList(const std::string &text, std::vector<std::vector<int64_t>> *dims, std::string *error);

/// "a,b" -> {"a", "b"}; "" -> {}.
std::vector<std::string> SplitList(const std::string &text, char separator);

/// An element type of a tensor: its name (as in the model's JSON sidecar), the code of
/// mindspore::DataType and its size in bytes.
struct ElementType {
  std::string name;
  int code = 0;
  size_t bytes = 0;
};

/// The type called ``name`` (float32, float16, float64, int8, int16, int32, int64, uint8, bool).
bool TypeFromName(const std::string &name, ElementType *type, std::string *error);

/// The type of a mindspore::DataType code; false for a type the app cannot read from files.
bool TypeFromCode(int code, ElementType *type);

/// {1, -1, 80} -> "1,-1,80".
std::string FormatDims(const std::vector<int64_t> &dims);

/// A model's input shape made usable for one file: when several dims are unknown, a leading
/// unknown (batch) dim becomes 1, since each file holds one example.
std::vector<int64_t> BatchOfOne(std::vector<int64_t> dims);

/// The shape of a file of ``bytes`` bytes under ``pattern`` (at most one -1, which is solved
/// for). Fails when the size is zero or not a whole multiple of the known dims.
bool ResolveDims(const std::vector<int64_t> &pattern, size_t bytes, size_t element_size,
                 std::vector<int64_t> *dims, std::string *error);

/// One input file: its path, its name without ".bin", and its size in bytes.
struct InputFile {
  std::string path;
  std::string stem;
  size_t bytes = 0;
};

/// The ``*.bin`` files of ``dir`` (regular files only), numeric stems in numeric order first
/// ("2" before "10"), then the others by name.
bool ListInputFiles(const std::string &dir, std::vector<InputFile> *files, std::string *error);

/// One example: its stem and one file per input of the model.
struct Item {
  std::string stem;
  std::vector<InputFile> files;
};

/// The items of ``dir``: with no (or one) input name, its ``<n>.bin`` files; with several, the
/// files of the folders ``dir/<name>``, which must hold the same stems. Ordered as ListInputFiles.
bool ListItems(const std::string &dir, const std::vector<std::string> &names, std::vector<Item> *items,
               std::string *error);

/// Whole-file read and write (binary); a write goes to ``path.tmp`` first, then is renamed.
bool ReadBinaryFile(const std::string &path, std::vector<char> *data, std::string *error);
bool WriteBinaryFile(const std::string &path, const void *data, size_t size, std::string *error);

/// mkdir -p.
bool MakeDirectories(const std::string &path, std::string *error);

bool IsRegularFile(const std::string &path);
bool IsDirectory(const std::string &path);

/// "a/b/" + "c" -> "a/b/c"; "a/b" + "c" -> "a/b/c".
std::string JoinPath(const std::string &dir, const std::string &name);

}  // namespace infer

#endif  // MS_AUDIO_ZOO_INFER_UTILS_H_
