/**
 * Test stub of MindSpore's include/api/serialization.h (see types.h). A stub "MindIR" is a text
 * file of key/value lines that describe the fake model:
 *     input_shape -1 -1 80     the shape of an input (-1 = dynamic); one line per input, or one
 *                              line for all of them
 *     inputs 1                 number of inputs (default: the number of input_shape lines)
 *     input_type 43 34         DataType of each input (one value: all; default float32)
 */
#ifndef STUB_MINDSPORE_INCLUDE_API_SERIALIZATION_H
#define STUB_MINDSPORE_INCLUDE_API_SERIALIZATION_H

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "include/api/types.h"

namespace mindspore {

class Graph {
 public:
  std::vector<std::vector<int64_t>> input_shapes;  // one per input after Load
  std::vector<int> input_types;                     // one per input after Load
  bool loaded = false;
};

class GraphCell {
 public:
  explicit GraphCell(const Graph &graph) : graph_(graph) {}
  const Graph &GetGraph() const { return graph_; }

 private:
  Graph graph_;
};

class Serialization {
 public:
  static Status Load(const std::string &file, ModelType model_type, Graph *graph) {
    std::ifstream in(file);
    if (!in || model_type != kMindIR) {
      return Status(kMEInvalidInput, "stub: cannot read " + file);
    }
    std::string line;
    int inputs = 0;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string key;
      words >> key;
      if (key == "input_shape") {
        graph->input_shapes.emplace_back();
        int64_t d;
        while (words >> d) graph->input_shapes.back().push_back(d);
      } else if (key == "inputs") {
        words >> inputs;
      } else if (key == "input_type") {
        int t;
        while (words >> t) graph->input_types.push_back(t);
      } else if (!key.empty()) {
        return Status(kMEInvalidInput, "stub: not a stub model file: " + file);
      }
    }
    if (inputs == 0) inputs = graph->input_shapes.empty() ? 1 : static_cast<int>(graph->input_shapes.size());
    if (graph->input_shapes.empty()) graph->input_shapes.emplace_back();
    if (graph->input_types.empty()) graph->input_types.push_back(static_cast<int>(DataType::kNumberTypeFloat32));
    graph->input_shapes.resize(inputs, graph->input_shapes.back());
    graph->input_types.resize(inputs, graph->input_types.back());
    graph->loaded = true;
    return kSuccess;
  }
};

}  // namespace mindspore
#endif  // STUB_MINDSPORE_INCLUDE_API_SERIALIZATION_H
