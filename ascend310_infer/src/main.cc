/**
 * Offline inference of any model of the zoo on Ascend (310 and others) with the MindSpore C++ API.
 *
 *   main --mindir_path=M.mindir --input_path=IN --output_path=OUT [--device_id=0]
 *        [--input_dims=1,-1,80] [--input_names=a,b] [--input_types=float32,int32]
 *        [--precision_mode=MODE]
 *
 * Every item of IN runs through the model, and every output k is written to OUT/<n>_<k>.bin,
 * which `postprocess.py` scores. An item is IN/<n>.bin for a model with one input; a model with
 * several inputs reads IN/<name>/<n>.bin for each input name (what `preprocess.py infer_inputs`
 * writes; the names are the sidecar's). Nothing here knows a model: the input shapes, folder
 * names and element types come from the flags (run_infer_310.sh reads them from the MindIR's JSON
 * sidecar) or from the model, and one unknown dim per input (frames, samples) follows from each
 * file's size. Items run grouped by shape, and the model is resized only when the shapes change
 * (on Ascend 310 a resize recompiles the graph, so it is the costly step).
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

using Clock = std::chrono::steady_clock;
using Shapes = std::vector<std::vector<int64_t>>;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int Fail(const std::string &message) {
  std::cerr << "error: " << message << std::endl;
  return 1;
}

/// One item to run and the shape of each of its inputs.
struct Job {
  infer::Item item;
  Shapes dims;
};

/// The shapes of every item under ``patterns`` (one per input), grouped by shape (item order
/// kept within a group).
bool PlanJobs(const std::vector<infer::Item> &items, const Shapes &patterns,
              const std::vector<infer::ElementType> &types, std::vector<Job> *jobs, std::string *error) {
  jobs->clear();
  for (const auto &item : items) {
    Job job{item, Shapes(patterns.size())};
    for (size_t j = 0; j < patterns.size(); ++j) {
      std::string why;
      if (!infer::ResolveDims(patterns[j], item.files[j].bytes, types[j].bytes, &job.dims[j], &why)) {
        *error = item.files[j].path + ": " + why;
        return false;
      }
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

/// The shapes to build a dynamic model for: the first job's, for every input with a -1.
std::map<int, std::vector<int>> InputShapeMap(const Shapes &patterns, const Shapes &dims) {
  std::map<int, std::vector<int>> map;
  for (size_t j = 0; j < patterns.size(); ++j) {
    if (std::count(patterns[j].begin(), patterns[j].end(), -1) > 0) {
      map[static_cast<int>(j)] = std::vector<int>(dims[j].begin(), dims[j].end());
    }
  }
  return map;
}

std::string Describe(const std::vector<std::string> &names, const Shapes &patterns,
                     const std::vector<infer::ElementType> &types) {
  std::string text;
  for (size_t j = 0; j < patterns.size(); ++j) {
    text += (j ? "; " : "") + names[j] + " " + infer::FormatDims(patterns[j]) + " " + types[j].name;
  }
  return text;
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
  std::vector<std::string> names = infer::SplitList(options.input_names, ',');
  std::vector<infer::ElementType> types;
  for (const auto &name : infer::SplitList(options.input_types, ',')) {
    infer::ElementType type;
    if (!infer::TypeFromName(name, &type, &error)) {
      return Fail("--input_types: " + error);
    }
    types.push_back(type);
  }
  if (!infer::MakeDirectories(options.output_path, &error)) {
    return Fail(error);
  }

  // With the dims known before building, the model is built for the first item's shapes: a
  // dynamic-shape MindIR cannot be compiled for Ascend 310 without concrete shapes.
  Shapes patterns;
  std::vector<infer::Item> items;
  std::vector<Job> jobs;
  auto list_items = [&](std::string *why) {
    if (!infer::ListItems(options.input_path, names, &items, why)) {
      return false;
    }
    if (items.empty()) {
      *why = "no .bin files in " + (names.size() > 1 ? infer::JoinPath(options.input_path, names[0])
                                                      : options.input_path) +
             " (python preprocess.py infer_inputs writes them)";
      return false;
    }
    return true;
  };
  if (!options.input_dims.empty()) {
    if (!infer::ParseDimsList(options.input_dims, &patterns, &error)) {
      return Fail("--input_dims: " + error);
    }
    const size_t count = patterns.size();
    if (count > 1 && names.size() != count) {
      return Fail("--input_dims gives " + std::to_string(count) + " input shapes: name their " +
                  std::to_string(count) + " input folders with --input_names");
    }
    if (types.empty()) {
      types.assign(count, infer::ElementType{"float32", 43, 4});
    }
    if (types.size() != count) {
      return Fail("--input_types gives " + std::to_string(types.size()) + " types for " + std::to_string(count) +
                  " inputs");
    }
    if (!list_items(&error) || !PlanJobs(items, patterns, types, &jobs, &error)) {
      return Fail(error);
    }
  }

  auto context = std::make_shared<ms::Context>();
  auto ascend = std::make_shared<ms::AscendDeviceInfo>();  // Ascend310DeviceInfo is its alias
  ascend->SetDeviceID(options.device_id);
  if (!options.precision_mode.empty()) {
    ascend->SetPrecisionMode(options.precision_mode);
  }
  if (!jobs.empty()) {
    const auto map = InputShapeMap(patterns, jobs.front().dims);
    if (!map.empty()) {
      ascend->SetInputShapeMap(map);
    }
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

  const std::vector<ms::MSTensor> inputs = model.GetInputs();
  const size_t count = inputs.size();
  if (!patterns.empty() && patterns.size() != count) {
    return Fail("the model has " + std::to_string(count) + " inputs, --input_dims gives " +
                std::to_string(patterns.size()) + " shapes");
  }
  if (names.empty() && count > 1) {
    for (const auto &input : inputs) names.push_back(input.Name());
  }
  if (!names.empty() && names.size() != count) {
    return Fail("the model has " + std::to_string(count) + " inputs, --input_names gives " +
                std::to_string(names.size()) + " names");
  }
  for (size_t j = 0; j < count; ++j) {
    infer::ElementType type;
    const int code = static_cast<int>(inputs[j].DataType());
    const std::string which = "input " + std::to_string(j) + " (" + inputs[j].Name() + ") of the model";
    if (!infer::TypeFromCode(code, &type)) {
      return Fail(which + " is of type " + std::to_string(code) + ", which the app cannot read from files");
    }
    if (j < types.size() && types[j].code != code) {
      return Fail(which + " is " + type.name + ", not " + types[j].name +
                  (options.input_types.empty() ? " (float32 is assumed with --input_dims)" : "") +
                  ": pass --input_types");
    }
    if (j >= types.size()) {
      types.push_back(type);
    }
    if (!patterns.empty() && !Compatible(patterns[j], inputs[j].Shape())) {
      return Fail("--input_dims " + infer::FormatDims(patterns[j]) + " does not fit the model's input shape " +
                  infer::FormatDims(inputs[j].Shape()));
    }
  }
  if (patterns.empty()) {
    for (const auto &input : inputs) patterns.push_back(infer::BatchOfOne(input.Shape()));
    if (!list_items(&error)) {
      return Fail(error + (count > 1 ? " (the model has " + std::to_string(count) +
                                           " inputs: one folder per input in " + options.input_path + ")"
                                     : ""));
    }
    if (!PlanJobs(items, patterns, types, &jobs, &error)) {
      std::string shapes;
      for (const auto &input : inputs) shapes += (shapes.empty() ? "" : ";") + infer::FormatDims(input.Shape());
      return Fail(error + " (the model's input shapes are " + shapes +
                  "; pass --input_dims to say how the files are laid out)");
    }
  }
  if (names.empty()) {
    names.push_back(inputs[0].Name());
  }

  std::cout << "model " << options.mindir_path << " on device " << options.device_id << ", built in " << std::fixed
            << std::setprecision(2) << build_ms << " ms; input " << Describe(names, patterns, types) << "; "
            << jobs.size() << " files, " << CountShapes(jobs) << " distinct shapes" << std::endl;

  double predict_ms = 0.0;
  double resize_ms = 0.0;
  size_t resizes = 0;
  std::vector<std::vector<char>> data(count);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job &job = jobs[i];
    std::vector<ms::MSTensor> current = model.GetInputs();
    Shapes shapes;
    for (const auto &input : current) shapes.push_back(input.Shape());
    if (job.dims != shapes) {
      const auto resize_start = Clock::now();
      status = model.Resize(current, job.dims);
      if (status != ms::kSuccess) {
        return Fail("resizing the inputs to " + Describe(names, job.dims, types) + " (for " + job.item.files[0].path +
                    ") failed: " + status.ToString() + "; was the model exported with a dynamic shape?");
      }
      resize_ms += MillisecondsSince(resize_start);
      ++resizes;
    }
    std::vector<ms::MSTensor> feed;
    for (size_t j = 0; j < count; ++j) {
      if (!infer::ReadBinaryFile(job.item.files[j].path, &data[j], &error)) {
        return Fail(error);
      }
      feed.emplace_back(inputs[j].Name(), static_cast<ms::DataType>(types[j].code), job.dims[j], data[j].data(),
                        data[j].size());
    }
    std::vector<ms::MSTensor> outputs;
    const auto predict_start = Clock::now();
    status = model.Predict(feed, &outputs);
    const double file_ms = MillisecondsSince(predict_start);
    if (status != ms::kSuccess) {
      return Fail("inference on " + job.item.files[0].path + " (shapes " + Describe(names, job.dims, types) +
                  ") failed: " + status.ToString());
    }
    if (outputs.empty()) {
      return Fail("inference on " + job.item.files[0].path + " returned no outputs");
    }
    predict_ms += file_ms;
    for (size_t k = 0; k < outputs.size(); ++k) {
      const std::shared_ptr<const void> host = outputs[k].Data();
      if (host == nullptr && outputs[k].DataSize() > 0) {
        return Fail("output " + std::to_string(k) + " of " + job.item.stem + " could not be copied to the host");
      }
      const std::string name = job.item.stem + "_" + std::to_string(k) + ".bin";
      const std::string out_path = infer::JoinPath(options.output_path, name);
      if (!infer::WriteBinaryFile(out_path, host.get(), outputs[k].DataSize(), &error)) {
        return Fail(error);
      }
    }
    std::cout << "[" << (i + 1) << "/" << jobs.size() << "] " << job.item.stem << ".bin "
              << infer::FormatDims(job.dims[0]) << " -> " << outputs.size() << " output(s) in " << file_ms << " ms"
              << std::endl;
  }
  std::cout << "inference: " << jobs.size() << " files in " << predict_ms << " ms (mean "
            << predict_ms / static_cast<double>(jobs.size()) << " ms per file); " << resizes << " resizes in "
            << resize_ms << " ms; build " << build_ms << " ms; outputs in " << options.output_path << std::endl;
  return 0;
}
