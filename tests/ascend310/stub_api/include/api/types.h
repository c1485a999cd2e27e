/**
 * Test stub of MindSpore's C++ inference API (include/api/types.h): the declarations the
 * ascend310_infer app uses, with the real signatures, implemented header-only so that the app
 * compiles, links and runs without MindSpore (tests/test_launch_scripts.py). Not MindSpore's code.
 */
#ifndef STUB_MINDSPORE_INCLUDE_API_TYPES_H
#define STUB_MINDSPORE_INCLUDE_API_TYPES_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mindspore {

enum class DataType : int {
  kTypeUnknown = 0,
  kNumberTypeBool = 30,
  kNumberTypeInt8 = 32,
  kNumberTypeInt16 = 33,
  kNumberTypeInt32 = 34,
  kNumberTypeInt64 = 35,
  kNumberTypeUInt8 = 37,
  kNumberTypeFloat16 = 42,
  kNumberTypeFloat32 = 43,
  kNumberTypeFloat64 = 44,
};

enum ModelType : uint32_t { kMindIR = 0, kAIR = 1, kOM = 2, kONNX = 3, kUnknownType = 0xFFFFFFFF };

enum StatusCode : uint32_t { kSuccess = 0, kMEFailed = 1, kMEInvalidInput = 2 };

class Status {
 public:
  Status() = default;
  Status(enum StatusCode code, const std::string &message = "") : code_(code), message_(message) {}  // NOLINT
  enum StatusCode StatusCode() const { return code_; }
  std::string ToString() const { return message_.empty() ? "code " + std::to_string(code_) : message_; }
  bool operator==(enum StatusCode code) const { return code_ == code; }
  bool operator!=(enum StatusCode code) const { return code_ != code; }

 private:
  enum StatusCode code_ = kSuccess;
  std::string message_;
};

class MSTensor {
 public:
  MSTensor() = default;
  MSTensor(const std::string &name, DataType type, const std::vector<int64_t> &shape, const void *data,
           size_t data_len)
      : name_(name), type_(type), shape_(shape), data_(std::make_shared<std::vector<char>>(data_len)) {
    if (data != nullptr && data_len > 0) {
      std::memcpy(data_->data(), data, data_len);
    }
  }
  std::string Name() const { return name_; }
  enum DataType DataType() const { return type_; }
  const std::vector<int64_t> &Shape() const { return shape_; }
  int64_t ElementNum() const {
    int64_t n = 1;
    for (int64_t d : shape_) n *= d;
    return n;
  }
  std::shared_ptr<const void> Data() const {
    if (!data_) return nullptr;
    return std::shared_ptr<const void>(data_, data_->data());
  }
  void *MutableData() { return data_ ? data_->data() : nullptr; }
  size_t DataSize() const { return data_ ? data_->size() : 0; }

 private:
  std::string name_;
  enum DataType type_ = DataType::kTypeUnknown;
  std::vector<int64_t> shape_;
  std::shared_ptr<std::vector<char>> data_;
};

}  // namespace mindspore
#endif  // STUB_MINDSPORE_INCLUDE_API_TYPES_H
