/**
 * Test stub of MindSpore's include/api/model.h (see types.h). The fake model checks what a real
 * one would reject (a dynamic or mismatched input shape or type, a wrong byte count) and computes
 * outputs that a test can check independently. With one float32 input:
 *     output 0: the mean over all leading dims of the input, shape (1, 1, last dim), float32
 *     output 1: the input's dim 1 (frames) as one float32
 * With two inputs, x (float32) and a padding mask (int32, 1 = padding) of one shape (rows, time),
 * what tests/inference/test_multi_io.py's toy network computes:
 *     output 0: x where the mask is 0, else 0 (float32, x's shape)
 *     output 1: the number of mask zeros of each row (int32, shape (rows,))
 * It prints "[stub] ..." lines for Build (device id, precision mode, shapes) and Resize.
 */
#ifndef STUB_MINDSPORE_INCLUDE_API_MODEL_H
#define STUB_MINDSPORE_INCLUDE_API_MODEL_H

#include <cstdint>
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
    shapes_ = g.input_shapes;
    for (const auto &entry : ascend->GetInputShapeMap()) {
      // as the Ascend graph compiler does: a shape for an input must fit the graph's
      const size_t j = static_cast<size_t>(entry.first);
      if (j >= shapes_.size()) return Status(kMEInvalidInput, "stub: a shape for input " + std::to_string(j));
      const std::vector<int64_t> wanted(entry.second.begin(), entry.second.end());
      bool fits = wanted.size() == g.input_shapes[j].size();
      for (size_t i = 0; fits && i < wanted.size(); ++i) {
        fits = g.input_shapes[j][i] < 0 || g.input_shapes[j][i] == wanted[i];
      }
      if (!fits) return Status(kMEInvalidInput, "stub: input shape " + Dims(wanted) +
                                                    " does not fit the graph's " + Dims(g.input_shapes[j]));
      shapes_[j] = wanted;
    }
    types_ = g.input_types;
    std::string shapes;
    for (const auto &shape : shapes_) shapes += (shapes.empty() ? "" : ";") + Dims(shape);
    std::cout << "[stub] build device=" << ascend->GetDeviceID() << " precision=" << ascend->GetPrecisionMode()
              << " shape=" << shapes << std::endl;
    return kSuccess;
  }

  Status Resize(const std::vector<MSTensor> &inputs, const std::vector<std::vector<int64_t>> &dims) {
    if (inputs.size() != shapes_.size() || dims.size() != shapes_.size()) {
      return Status(kMEInvalidInput, "stub: resize every input");
    }
    std::string text;
    for (const auto &shape : dims) {
      for (int64_t d : shape) {
        if (d <= 0) return Status(kMEInvalidInput, "stub: resize to a non-positive dim");
      }
      text += (text.empty() ? "" : ";") + Dims(shape);
    }
    shapes_ = dims;
    std::cout << "[stub] resize " << text << std::endl;
    return kSuccess;
  }

  std::vector<MSTensor> GetInputs() {
    std::vector<MSTensor> result;
    for (size_t j = 0; j < shapes_.size(); ++j) {
      result.emplace_back("x" + std::to_string(j), static_cast<DataType>(types_[j]), shapes_[j], nullptr, 0);
    }
    return result;
  }

  Status Predict(const std::vector<MSTensor> &inputs, std::vector<MSTensor> *outputs) {
    if (inputs.size() != shapes_.size()) {
      return Status(kMEInvalidInput, "stub: " + std::to_string(shapes_.size()) + " inputs expected");
    }
    for (size_t j = 0; j < inputs.size(); ++j) {
      const MSTensor &x = inputs[j];
      if (x.Shape() != shapes_[j]) {
        return Status(kMEInvalidInput, "stub: input shape " + Dims(x.Shape()) + " but the model is " + Dims(shapes_[j]));
      }
      if (static_cast<int>(x.DataType()) != types_[j]) return Status(kMEInvalidInput, "stub: wrong input type");
      if (shapes_[j].size() < 2 || x.DataSize() != static_cast<size_t>(x.ElementNum()) * 4) {
        return Status(kMEInvalidInput, "stub: byte count does not match the shape");
      }
    }
    outputs->clear();
    if (inputs.size() == 1) return MeanAndFrames(inputs[0], outputs);
    if (inputs.size() == 2) return MaskedAndLengths(inputs[0], inputs[1], outputs);
    return Status(kMEInvalidInput, "stub: computes nothing for " + std::to_string(inputs.size()) + " inputs");
  }

 private:
  static std::string Dims(const std::vector<int64_t> &dims) {
    std::string text;
    for (size_t i = 0; i < dims.size(); ++i) text += (i ? "," : "") + std::to_string(dims[i]);
    return text;
  }

  static Status MeanAndFrames(const MSTensor &x, std::vector<MSTensor> *outputs) {
    if (x.DataType() != DataType::kNumberTypeFloat32) return Status(kMEInvalidInput, "stub: float32 expected");
    const int64_t channels = x.Shape().back();
    const int64_t rows = x.ElementNum() / channels;
    const float *values = static_cast<const float *>(x.Data().get());
    std::vector<float> mean(static_cast<size_t>(channels), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < channels; ++c) mean[c] += values[r * channels + c] / static_cast<float>(rows);
    }
    const float frames = static_cast<float>(x.Shape()[1]);
    outputs->emplace_back("mean", DataType::kNumberTypeFloat32, std::vector<int64_t>{1, 1, channels}, mean.data(),
                          mean.size() * sizeof(float));
    outputs->emplace_back("frames", DataType::kNumberTypeFloat32, std::vector<int64_t>{1}, &frames, sizeof(float));
    return kSuccess;
  }

  static Status MaskedAndLengths(const MSTensor &x, const MSTensor &mask, std::vector<MSTensor> *outputs) {
    if (x.DataType() != DataType::kNumberTypeFloat32 || mask.DataType() != DataType::kNumberTypeInt32 ||
        x.Shape() != mask.Shape() || x.Shape().size() != 2) {
      return Status(kMEInvalidInput, "stub: (float32, int32) inputs of one shape (rows, time) expected");
    }
    const int64_t rows = x.Shape()[0];
    const int64_t time = x.Shape()[1];
    const float *values = static_cast<const float *>(x.Data().get());
    const int32_t *padding = static_cast<const int32_t *>(mask.Data().get());
    std::vector<float> masked(static_cast<size_t>(rows * time), 0.0f);
    std::vector<int32_t> lengths(static_cast<size_t>(rows), 0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t t = 0; t < time; ++t) {
        if (padding[r * time + t] == 0) {
          masked[r * time + t] = values[r * time + t];
          ++lengths[r];
        }
      }
    }
    outputs->emplace_back("features", DataType::kNumberTypeFloat32, x.Shape(), masked.data(),
                          masked.size() * sizeof(float));
    outputs->emplace_back("lengths", DataType::kNumberTypeInt32, std::vector<int64_t>{rows}, lengths.data(),
                          lengths.size() * sizeof(int32_t));
    return kSuccess;
  }

  std::vector<std::vector<int64_t>> shapes_;
  std::vector<int> types_;
};

}  // namespace mindspore
#endif  // STUB_MINDSPORE_INCLUDE_API_MODEL_H
