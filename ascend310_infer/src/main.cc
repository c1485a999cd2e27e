/**
 * Offline inference of any model of the zoo on Ascend (310 and others) with the MindSpore C++ API.
 *
 *   main --mindir_path=M.mindir --input_path=IN --output_path=OUT [--device_id=0]
 *        [--input_dims=1,-1,80] [--precision_mode=MODE]
 *
 * Every <n>.bin of IN (float32, C order; what `preprocess.py infer_inputs` writes) runs through
 * the model, and output k is written to OUT/<n>_<k>.bin, which `postprocess.py` scores. Nothing
 * here knows a model: the input shape comes from --input_dims (run_infer_310.sh reads it from the
 * MindIR's JSON sidecar) or from the model, and one unknown dim (frames, samples) follows from
 * each file's size. Files run grouped by shape, and the model is resized only when the shape
 * changes (on Ascend 310 a resize recompiles the graph, so it is the costly step).
 */
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/serialization.h"
#include "include/api/types.h"
#include "inc/utils.h"

namespace ms = mindspore;

namespace {

constexpr size_t kFloat32Bytes = 4;
using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int Fail(const std::string &message) {
  std::cerr << "error: " << message << std::endl;
  return 1;
}

/// One file to run and the input shape it needs.
struct Job {
  infer::InputFile file;
  std::vector<int64_t> dims;
};

/// The shape of every file under ``pattern``, grouped by shape (file order kept within a group).
bool PlanJobs(const std::vector<infer::InputFile> &files, const std::vector<int64_t> &pattern,
              std::vector<Job> *jobs, std::string *error) {
  jobs->clear();
  for (const auto &file : files) {
    Job job{file, {}};
    std::string why;
    if (!infer::ResolveDims(pattern, file.bytes, kFloat32Bytes, &job.dims, &why)) {
      *error = file.path + ": " + why;
      return false;
    }
    jobs->push_back(job);
  }
  std::stable_sort(jobs->begin(), jobs->end(), [](const Job &a, const Job &b) { return a.dims < b.dims; });
  return true;
}

size_t CountShapes(const std::vector<Job> &jobs) {
  size_t count = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    count += (i == 0 || jobs[i].dims != jobs[i - 1].dims) ? 1 : 0;
  }
  return count;
}

/// The user's dims and the built model's input shape must agree wherever both are known.
bool Compatible(const std::vector<int64_t> &pattern, const std::vector<int64_t> &model_shape) {
  if (pattern.size() != model_shape.size()) {
    return false;
  }
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] > 0 && model_shape[i] > 0 && pattern[i] != model_shape[i]) {
      return false;
    }
  }
  return true;
}

std::map<int, std::vector<int>> FirstInputShape(const std::vector<int64_t> &dims) {
  return {{0, std::vector<int>(dims.begin(), dims.end())}};
}

}  // namespace

int main(int argc, char **argv) {
  infer::Options options;
  const std::string problem = infer::ParseOptions(argc, argv, &options);
  if (options.help) {
    std::cout << infer::Usage(argv[0]);
    return 0;
  }
  if (!problem.empty()) {
    std::cerr << "error: " << problem << "\n\n" << infer::Usage(argv[0]);
    return 2;
  }
  if (!infer::IsRegularFile(options.mindir_path)) {
    return Fail("model not found: " + options.mindir_path);
  }
  if (!infer::IsDirectory(options.input_path)) {
    return Fail("input folder not found: " + options.input_path + " (python preprocess.py infer_inputs writes it)");
  }
  std::string error;
  std::vector<infer::InputFile> files;
  if (!infer::ListInputFiles(options.input_path, &files, &error)) {
    return Fail(error);
  }
  if (files.empty()) {
    return Fail("no .bin files in " + options.input_path + " (python preprocess.py infer_inputs writes them)");
  }
  if (!infer::MakeDirectories(options.output_path, &error)) {
    return Fail(error);
  }

  // With the dims known before building, the model is built for the first file's shape: a
  // dynamic-shape MindIR cannot be compiled for Ascend 310 without a concrete shape.
  std::vector<int64_t> pattern;
  std::vector<Job> jobs;
  if (!options.input_dims.empty()) {
    if (!infer::ParseDims(options.input_dims, &pattern, &error)) {
      return Fail("--input_dims: " + error);
    }
    if (!PlanJobs(files, pattern, &jobs, &error)) {
      return Fail(error);
    }
  }

  auto context = std::make_shared<ms::Context>();
  auto ascend = std::make_shared<ms::AscendDeviceInfo>();  // Ascend310DeviceInfo is its alias
  ascend->SetDeviceID(options.device_id);
  if (!options.precision_mode.empty()) {
    ascend->SetPrecisionMode(options.precision_mode);
  }
  if (!jobs.empty() && std::count(pattern.begin(), pattern.end(), -1) > 0) {
    ascend->SetInputShapeMap(FirstInputShape(jobs.front().dims));
  }
  context->MutableDeviceInfo().push_back(ascend);

  const auto load_start = Clock::now();
  ms::Graph graph;
  ms::Status status = ms::Serialization::Load(options.mindir_path, ms::ModelType::kMindIR, &graph);
  if (status != ms::kSuccess) {
    return Fail("cannot load " + options.mindir_path + " as MindIR: " + status.ToString());
  }
  ms::Model model;
  status = model.Build(ms::GraphCell(graph), context);
  if (status != ms::kSuccess) {
    return Fail("building " + options.mindir_path + " for device " + std::to_string(options.device_id) +
                " failed: " + status.ToString());
  }
  const double build_ms = MillisecondsSince(load_start);

  std::vector<ms::MSTensor> inputs = model.GetInputs();
  if (inputs.size() != 1) {
    return Fail("the model has " + std::to_string(inputs.size()) +
                " inputs; this app feeds one tensor per example (<n>.bin)");
  }
  if (inputs[0].DataType() != ms::DataType::kNumberTypeFloat32) {
    return Fail("the model's input is of type " + std::to_string(static_cast<int>(inputs[0].DataType())) +
                ", not float32: export it with a float32 input");
  }
  const std::vector<int64_t> model_shape = inputs[0].Shape();
  if (pattern.empty()) {
    pattern = infer::BatchOfOne(model_shape);
    if (!PlanJobs(files, pattern, &jobs, &error)) {
      return Fail(error + " (the model's input shape is " + infer::FormatDims(model_shape) +
                  "; pass --input_dims to say how the files are laid out)");
    }
  } else if (!Compatible(pattern, model_shape)) {
    return Fail("--input_dims " + infer::FormatDims(pattern) + " does not fit the model's input shape " +
                infer::FormatDims(model_shape));
  }

  std::cout << "model " << options.mindir_path << " on device " << options.device_id << ", built in " << std::fixed
            << std::setprecision(2) << build_ms << " ms; input " << inputs[0].Name() << " "
            << infer::FormatDims(pattern) << "; " << jobs.size() << " files, " << CountShapes(jobs)
            << " distinct shapes" << std::endl;

  double predict_ms = 0.0;
  double resize_ms = 0.0;
  size_t resizes = 0;
  bool warned_type = false;
  std::vector<char> data;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job &job = jobs[i];
    if (job.dims != model.GetInputs()[0].Shape()) {
      const auto resize_start = Clock::now();
      status = model.Resize(model.GetInputs(), {job.dims});
      if (status != ms::kSuccess) {
        return Fail("resizing the input to " + infer::FormatDims(job.dims) + " (for " + job.file.path +
                    ") failed: " + status.ToString() + "; was the model exported with a dynamic shape?");
      }
      resize_ms += MillisecondsSince(resize_start);
      ++resizes;
    }
    if (!infer::ReadBinaryFile(job.file.path, &data, &error)) {
      return Fail(error);
    }
    std::vector<ms::MSTensor> feed;
    feed.emplace_back(model.GetInputs()[0].Name(), ms::DataType::kNumberTypeFloat32, job.dims, data.data(),
                      data.size());
    std::vector<ms::MSTensor> outputs;
    const auto predict_start = Clock::now();
    status = model.Predict(feed, &outputs);
    const double file_ms = MillisecondsSince(predict_start);
    if (status != ms::kSuccess) {
      return Fail("inference on " + job.file.path + " (shape " + infer::FormatDims(job.dims) +
                  ") failed: " + status.ToString());
    }
    if (outputs.empty()) {
      return Fail("inference on " + job.file.path + " returned no outputs");
    }
    predict_ms += file_ms;
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (outputs[k].DataType() != ms::DataType::kNumberTypeFloat32 && !warned_type) {
        std::cerr << "warning: output " << k << " is of type " << static_cast<int>(outputs[k].DataType())
                  << ", not float32; its bytes are written as they are" << std::endl;
        warned_type = true;
      }
      const std::shared_ptr<const void> host = outputs[k].Data();
      if (host == nullptr && outputs[k].DataSize() > 0) {
        return Fail("output " + std::to_string(k) + " of " + job.file.path + " could not be copied to the host");
      }
      const std::string name = job.file.stem + "_" + std::to_string(k) + ".bin";
      const std::string out_path = infer::JoinPath(options.output_path, name);
      if (!infer::WriteBinaryFile(out_path, host.get(), outputs[k].DataSize(), &error)) {
        return Fail(error);
      }
    }
    std::cout << "[" << (i + 1) << "/" << jobs.size() << "] " << job.file.stem << ".bin "
              << infer::FormatDims(job.dims) << " -> " << outputs.size() << " output(s) in " << file_ms << " ms"
              << std::endl;
  }
  std::cout << "inference: " << jobs.size() << " files in " << predict_ms << " ms (mean "
            << predict_ms / static_cast<double>(jobs.size()) << " ms per file); " << resizes << " resizes in "
            << resize_ms << " ms; build " << build_ms << " ms; outputs in " << options.output_path << std::endl;
  return 0;
}
