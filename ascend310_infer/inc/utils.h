/**
 * What the offline inference app needs besides MindSpore: command-line options, input shapes
 * that follow from file sizes, and POSIX file helpers (no std::filesystem, so that the GCC 7
 * of older Ascend toolkits builds it too).
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
  std::string input_path;      // folder of <n>.bin inputs (float32, C order)
  std::string output_path;     // folder for the <n>_<k>.bin outputs
  std::string input_dims;      // e.g. "1,-1,80": -1 follows from each file's size; "" = the model's
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

/// Whole-file read and write (binary).
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
