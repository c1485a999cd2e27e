/**
 * Options, shapes and POSIX file helpers of the offline inference app (see inc/utils.h).
 */
#include "inc/utils.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace infer {

namespace {

bool ParseUnsigned(const std::string &text, uint64_t max, uint64_t *value) {
  if (text.empty() || text.size() > 19 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  *value = std::strtoull(text.c_str(), nullptr, 10);
  return *value <= max;
}

bool IsNumber(const std::string &text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string Usage(const std::string &program) {
  std::ostringstream out;
  out << "usage: " << program
      << " --mindir_path=M.mindir --input_path=DIR --output_path=DIR [--device_id=0]\n"
         "       [--input_dims=1,-1,80] [--input_names=a,b] [--input_types=float32,int32]\n"
         "       [--precision_mode=MODE]\n"
         "\n"
         "Runs the MindIR on every item of --input_path and writes every output k of each to\n"
         "<output_path>/<n>_<k>.bin (the tensor's bytes as the model returns them). An item is\n"
         "<n>.bin for a model with one input; for several inputs --input_path holds one folder per\n"
         "input, <name>/<n>.bin. Files are C order, in the input's element type.\n"
         "\n"
         "  --mindir_path     the exported model\n"
         "  --input_path      the inputs (preprocess.py infer_inputs writes <out>/feats)\n"
         "  --output_path     folder for the outputs (created if missing)\n"
         "  --device_id       Ascend device (default 0)\n"
         "  --input_dims      the input shapes, ';' between inputs; one -1 per input is solved from\n"
         "                    each file's size, so files of different lengths run through one\n"
         "                    dynamic-shape model (default: the model's own input shapes, a leading\n"
         "                    unknown batch dim read as 1)\n"
         "  --input_names     the input folders, ',' between them (default: the model's input names)\n"
         "  --input_types     the element types, ',' between them: float32 float16 float64 int8 int16\n"
         "                    int32 int64 uint8 bool (default: the model's; float32 when --input_dims\n"
         "                    is given, which is read before the model is built)\n"
         "  --precision_mode  Ascend precision mode, e.g. preferred_fp32, enforce_fp16 (MindSpore 2.x)\n"
         "                    or allow_fp32_to_fp16 (1.x); default: the runtime's\n"
         "\n"
         "Files run in order of their shape, so that the model is resized once per distinct shape.\n"
         "Exit status: 0 done, 1 a failure (one 'error:' line says which file and why), 2 bad flags.\n";
  return out.str();
}

std::string ParseOptions(int argc, const char *const *argv, Options *options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      options->help = true;
      continue;
    }
    if (arg.compare(0, 2, "--") != 0) {
      return "unexpected argument '" + arg + "': flags are --key=value or --key value";
    }
    std::string key = arg.substr(2);
    std::string value;
    size_t eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return "--" + key + " needs a value";
    }
    if (key == "mindir_path") {
      options->mindir_path = value;
    } else if (key == "input_path") {
      options->input_path = value;
    } else if (key == "output_path") {
      options->output_path = value;
    } else if (key == "input_dims") {
      options->input_dims = value;
    } else if (key == "input_names") {
      options->input_names = value;
    } else if (key == "input_types") {
      options->input_types = value;
    } else if (key == "precision_mode") {
      options->precision_mode = value;
    } else if (key == "device_id") {
      uint64_t id = 0;
      if (!ParseUnsigned(value, std::numeric_limits<uint32_t>::max(), &id)) {
        return "--device_id must be a non-negative integer, got '" + value + "'";
      }
      options->device_id = static_cast<uint32_t>(id);
    } else {
      return "unknown flag --" + key +
             " (flags: --mindir_path --input_path --output_path --device_id --input_dims --input_names"
             " --input_types --precision_mode)";
    }
  }
  if (options->help) {
    return "";
  }
  for (const auto &required : {std::make_pair("mindir_path", &options->mindir_path),
                                std::make_pair("input_path", &options->input_path),
                                std::make_pair("output_path", &options->output_path)}) {
    if (required.second->empty()) {
      return std::string("--") + required.first + " is required";
    }
  }
  return "";
}

bool ParseDims(const std::string &text, std::vector<int64_t> *dims, std::string *error) {
  dims->clear();
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    uint64_t value = 0;
    if (item == "-1") {
      dims->push_back(-1);
    } else if (ParseUnsigned(item, std::numeric_limits<int32_t>::max(), &value) && value > 0) {
      dims->push_back(static_cast<int64_t>(value));
    } else {
      *error = "input dims '" + text + "': '" + item + "' is neither a positive integer nor -1";
      return false;
    }
  }
  if (dims->empty() || (!text.empty() && text.back() == ',')) {
    *error = "input dims '" + text + "': expected comma-separated sizes, e.g. 1,-1,80";
    return false;
  }
  return true;
}

bool ParseDimsList(const std::string &text, std::vector<std::vector<int64_t>> *dims, std::string *error) {
  dims->clear();
  if (!text.empty() && text.back() == ';') {
    *error = "input dims '" + text + "': expected shapes separated by ';', e.g. 1,-1;1,-1";
    return false;
  }
  for (const auto &item : SplitList(text, ';')) {
    std::vector<int64_t> shape;
    if (!ParseDims(item, &shape, error)) {
      return false;
    }
    dims->push_back(shape);
  }
  if (dims->empty()) {
    *error = "input dims '" + text + "': expected comma-separated sizes, e.g. 1,-1,80";
    return false;
  }
  return true;
}

std::vector<std::string> SplitList(const std::string &text, char separator) {
  std::vector<std::string> items;
  if (text.empty()) {
    return items;
  }
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, separator)) {
    items.push_back(item);
  }
  if (text.back() == separator) {
    items.emplace_back();
  }
  return items;
}

namespace {

// name, mindspore::DataType code, bytes: the types a file of raw values can hold
const ElementType kTypes[] = {{"float32", 43, 4}, {"float16", 42, 2}, {"float64", 44, 8}, {"int8", 32, 1},
                              {"int16", 33, 2},   {"int32", 34, 4},   {"int64", 35, 8},   {"uint8", 37, 1},
                              {"bool", 30, 1}};

}  // namespace

bool TypeFromName(const std::string &name, ElementType *type, std::string *error) {
  for (const auto &known : kTypes) {
    if (known.name == name) {
      *type = known;
      return true;
    }
  }
  *error = "unknown element type '" + name + "' (known: float32 float16 float64 int8 int16 int32 int64 uint8 bool)";
  return false;
}

bool TypeFromCode(int code, ElementType *type) {
  for (const auto &known : kTypes) {
    if (known.code == code) {
      *type = known;
      return true;
    }
  }
  return false;
}

std::string FormatDims(const std::vector<int64_t> &dims) {
  std::ostringstream out;
  for (size_t i = 0; i < dims.size(); ++i) {
    out << (i ? "," : "") << dims[i];
  }
  return out.str();
}

std::vector<int64_t> BatchOfOne(std::vector<int64_t> dims) {
  if (std::count(dims.begin(), dims.end(), -1) > 1 && !dims.empty() && dims[0] < 0) {
    dims[0] = 1;
  }
  return dims;
}

bool ResolveDims(const std::vector<int64_t> &pattern, size_t bytes, size_t element_size,
                 std::vector<int64_t> *dims, std::string *error) {
  int unknown = -1;
  uint64_t known = 1;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] < 0) {
      if (unknown >= 0) {
        *error = "input dims " + FormatDims(pattern) +
                 " have more than one unknown (-1) dim; a file's size determines only one";
        return false;
      }
      unknown = static_cast<int>(i);
    } else {
      known *= static_cast<uint64_t>(pattern[i]);
    }
  }
  const uint64_t row_bytes = known * element_size;
  if (bytes == 0) {
    *error = "empty file";
    return false;
  }
  if (unknown < 0 && bytes != row_bytes) {
    std::ostringstream out;
    out << bytes << " bytes, but the static input shape " << FormatDims(pattern) << " holds " << row_bytes
        << " (export a dynamic-shape model, or pass --input_dims with a -1)";
    *error = out.str();
    return false;
  }
  if (bytes % row_bytes != 0) {
    std::ostringstream out;
    out << bytes << " bytes is not a whole number of " << row_bytes << "-byte blocks (input dims "
        << FormatDims(pattern) << ", " << element_size << "-byte values)";
    *error = out.str();
    return false;
  }
  *dims = pattern;
  if (unknown >= 0) {
    (*dims)[unknown] = static_cast<int64_t>(bytes / row_bytes);
  }
  return true;
}

bool ListInputFiles(const std::string &dir, std::vector<InputFile> *files, std::string *error) {
  files->clear();
  DIR *handle = opendir(dir.c_str());
  if (handle == nullptr) {
    *error = "cannot open input folder " + dir + ": " + std::strerror(errno);
    return false;
  }
  for (struct dirent *entry = readdir(handle); entry != nullptr; entry = readdir(handle)) {
    std::string name = entry->d_name;
    if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".bin") != 0) {
      continue;
    }
    InputFile file;
    file.path = JoinPath(dir, name);
    file.stem = name.substr(0, name.size() - 4);
    struct stat info;
    if (stat(file.path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      continue;
    }
    file.bytes = static_cast<size_t>(info.st_size);
    files->push_back(file);
  }
  closedir(handle);
  std::sort(files->begin(), files->end(), [](const InputFile &a, const InputFile &b) {
    bool a_number = IsNumber(a.stem), b_number = IsNumber(b.stem);
    if (a_number != b_number) {
      return a_number;
    }
    if (a_number && a.stem.size() != b.stem.size()) {
      return a.stem.size() < b.stem.size();
    }
    return a.stem < b.stem;
  });
  return true;
}

bool ListItems(const std::string &dir, const std::vector<std::string> &names, std::vector<Item> *items,
               std::string *error) {
  items->clear();
  std::vector<std::string> folders;
  if (names.size() <= 1) {
    folders.push_back(dir);
  }
  for (size_t j = 0; names.size() > 1 && j < names.size(); ++j) {
    folders.push_back(JoinPath(dir, names[j]));
  }
  std::vector<std::vector<InputFile>> listed(folders.size());
  for (size_t j = 0; j < folders.size(); ++j) {
    if (!IsDirectory(folders[j])) {
      *error = "input folder not found: " + folders[j];
      return false;
    }
    if (!ListInputFiles(folders[j], &listed[j], error)) {
      return false;
    }
  }
  for (const auto &first : listed[0]) {
    Item item{first.stem, {first}};
    for (size_t j = 1; j < folders.size(); ++j) {
      auto found = std::find_if(listed[j].begin(), listed[j].end(),
                                [&](const InputFile &file) { return file.stem == first.stem; });
      if (found == listed[j].end()) {
        *error = JoinPath(folders[j], first.stem + ".bin") + " not found, but " + first.path +
                 " is there: every input needs a file per item";
        return false;
      }
      item.files.push_back(*found);
    }
    items->push_back(item);
  }
  return true;
}

bool ReadBinaryFile(const std::string &path, std::vector<char> *data, std::string *error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  std::streamsize size = in.tellg();
  in.seekg(0, std::ios::beg);
  data->resize(static_cast<size_t>(size));
  if (size > 0 && !in.read(data->data(), size)) {
    *error = "read of " + path + " stopped early";
    return false;
  }
  return true;
}

bool WriteBinaryFile(const std::string &path, const void *data, size_t size, std::string *error) {
  // a temporary name, then a rename: a crash never leaves a half-written output
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) {
    *error = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::remove(tmp.c_str());
    *error = "write of " + path + " failed (disk full?)";
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool MakeDirectories(const std::string &path, std::string *error) {
  if (path.empty()) {
    *error = "empty folder name";
    return false;
  }
  size_t position = 0;
  do {
    position = path.find('/', position + 1);
    std::string prefix = path.substr(0, position);
    if (prefix.empty() || IsDirectory(prefix)) {
      continue;
    }
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = "cannot create folder " + prefix + ": " + std::strerror(errno);
      return false;
    }
  } while (position != std::string::npos);
  if (!IsDirectory(path)) {
    *error = path + " exists and is not a folder";
    return false;
  }
  return true;
}

bool IsRegularFile(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool IsDirectory(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::string JoinPath(const std::string &dir, const std::string &name) {
  if (dir.empty() || dir.back() == '/') {
    return dir + name;
  }
  return dir + "/" + name;
}

}  // namespace infer
