/**
 * Test stub of MindSpore's include/api/context.h (see types.h): Context and the Ascend device
 * info with the setters the app calls; the values are kept for the stub Model to report.
 */
#ifndef STUB_MINDSPORE_INCLUDE_API_CONTEXT_H
#define STUB_MINDSPORE_INCLUDE_API_CONTEXT_H

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "include/api/types.h"

namespace mindspore {

enum DeviceType { kCPU = 0, kGPU, kKirinNPU, kAscend, kAscend910, kAscend310, kInvalidDeviceType = 100 };

class DeviceInfoContext : public std::enable_shared_from_this<DeviceInfoContext> {
 public:
  virtual ~DeviceInfoContext() = default;
  virtual enum DeviceType GetDeviceType() const = 0;
};

class AscendDeviceInfo : public DeviceInfoContext {
 public:
  enum DeviceType GetDeviceType() const override { return DeviceType::kAscend; }
  void SetDeviceID(uint32_t device_id) { device_id_ = device_id; }
  uint32_t GetDeviceID() const { return device_id_; }
  void SetPrecisionMode(const std::string &precision_mode) { precision_mode_ = precision_mode; }
  std::string GetPrecisionMode() const { return precision_mode_; }
  void SetInputShapeMap(const std::map<int, std::vector<int>> &shape) { input_shape_map_ = shape; }
  std::map<int, std::vector<int>> GetInputShapeMap() const { return input_shape_map_; }

 private:
  uint32_t device_id_ = 0;
  std::string precision_mode_;
  std::map<int, std::vector<int>> input_shape_map_;
};

using Ascend310DeviceInfo = AscendDeviceInfo;

class Context {
 public:
  std::vector<std::shared_ptr<DeviceInfoContext>> &MutableDeviceInfo() { return device_info_; }

 private:
  std::vector<std::shared_ptr<DeviceInfoContext>> device_info_;
};

}  // namespace mindspore
#endif  // STUB_MINDSPORE_INCLUDE_API_CONTEXT_H
