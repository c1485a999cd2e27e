/**
 * Test stub of MindSpore's include/api/model.h (see types.h). The fake model checks what a real
 * one would reject (a dynamic or mismatched input shape, a wrong byte count) and computes two
 * outputs that a test can check independently:
 *     output 0: the mean over all leading dims of the input, shape (1, 1, last dim), float32
 *     output 1: the input's dim 1 (frames) as one float32
 * It prints "[stub] ..." lines for Build (device id, precision mode, shape) and Resize.
 */
#ifndef STUB_MINDSPORE_INCLUDE_API_MODEL_H
#define STUB_MINDSPORE_INCLUDE_API_MODEL_H

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/serialization.h"
#include "include/api/types.h"

namespace mindspore {

class Model {
 public:
  Model() = default;
  Model(const Model &) = delete;
  void operator=(const Model &) = delete;

  Status Build(GraphCell graph, const std::shared_ptr<Context> &model_context = nullptr) {
    const Graph &g = graph.GetGraph();
    if (!g.loaded) return Status(kMEFailed, "stub: graph not loaded");
    if (model_context == nullptr || model_context->MutableDeviceInfo().size() != 1 ||
        model_context->MutableDeviceInfo()[0]->GetDeviceType() != kAscend) {
      return Status(kMEInvalidInput, "stub: expected one Ascend device info");
    }
    auto ascend = std::static_pointer_cast<AscendDeviceInfo>(model_context->MutableDeviceInfo()[0]);
    shape_ = g.input_shape;
    auto map = ascend->GetInputShapeMap();
    if (map.count(0)) {
      // as the Ascend graph compiler does: a shape for the input must fit the graph's
      bool fits = map[0].size() == g.input_shape.size();
      for (size_t i = 0; fits && i < g.input_shape.size(); ++i) {
        fits = g.input_shape[i] < 0 || g.input_shape[i] == map[0][i];
      }
      if (!fits) return Status(kMEInvalidInput, "stub: input shape " + Dims({map[0].begin(), map[0].end()}) +
                                                    " does not fit the graph's " + Dims(g.input_shape));
      shape_.assign(map[0].begin(), map[0].end());
    }
    inputs_ = g.inputs;
    type_ = static_cast<DataType>(g.input_type);
    std::cout << "[stub] build device=" << ascend->GetDeviceID() << " precision=" << ascend->GetPrecisionMode()
              << " shape=" << Dims(shape_) << std::endl;
    return kSuccess;
  }

  Status Resize(const std::vector<MSTensor> &inputs, const std::vector<std::vector<int64_t>> &dims) {
    if (inputs.size() != 1 || dims.size() != 1) return Status(kMEInvalidInput, "stub: resize one input");
    for (int64_t d : dims[0]) {
      if (d <= 0) return Status(kMEInvalidInput, "stub: resize to a non-positive dim");
    }
    shape_ = dims[0];
    std::cout << "[stub] resize " << Dims(shape_) << std::endl;
    return kSuccess;
  }

  std::vector<MSTensor> GetInputs() {
    std::vector<MSTensor> result;
    for (int i = 0; i < inputs_; ++i) result.emplace_back("x" + std::to_string(i), type_, shape_, nullptr, 0);
    return result;
  }

  Status Predict(const std::vector<MSTensor> &inputs, std::vector<MSTensor> *outputs) {
    if (inputs.size() != 1) return Status(kMEInvalidInput, "stub: one input expected");
    const MSTensor &x = inputs[0];
    if (x.Shape() != shape_) {
      return Status(kMEInvalidInput, "stub: input shape " + Dims(x.Shape()) + " but the model is " + Dims(shape_));
    }
    if (shape_.size() < 2 || x.DataSize() != static_cast<size_t>(x.ElementNum()) * sizeof(float)) {
      return Status(kMEInvalidInput, "stub: byte count does not match the shape");
    }
    const int64_t channels = shape_.back();
    const int64_t rows = x.ElementNum() / channels;
    const float *values = static_cast<const float *>(x.Data().get());
    std::vector<float> mean(static_cast<size_t>(channels), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < channels; ++c) mean[c] += values[r * channels + c] / static_cast<float>(rows);
    }
    const float frames = static_cast<float>(shape_[1]);
    outputs->clear();
    outputs->emplace_back("mean", DataType::kNumberTypeFloat32, std::vector<int64_t>{1, 1, channels}, mean.data(),
                          mean.size() * sizeof(float));
    outputs->emplace_back("frames", DataType::kNumberTypeFloat32, std::vector<int64_t>{1}, &frames, sizeof(float));
    return kSuccess;
  }

 private:
  static std::string Dims(const std::vector<int64_t> &dims) {
    std::string text;
    for (size_t i = 0; i < dims.size(); ++i) text += (i ? "," : "") + std::to_string(dims[i]);
    return text;
  }

  std::vector<int64_t> shape_;
  int inputs_ = 1;
  DataType type_ = DataType::kNumberTypeFloat32;
};

}  // namespace mindspore
#endif  // STUB_MINDSPORE_INCLUDE_API_MODEL_H
