/**
 * Test stub of MindSpore's include/api/serialization.h (see types.h). A stub "MindIR" is a text
 * file of key/value lines that describe the fake model:
 *     input_shape -1 -1 80     the input shape (-1 = dynamic)
 *     inputs 1                 number of inputs (default 1)
 *     input_type 43            DataType of the inputs (default float32)
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
  std::vector<int64_t> input_shape;
  int inputs = 1;
  int input_type = static_cast<int>(DataType::kNumberTypeFloat32);
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
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string key;
      words >> key;
      if (key == "input_shape") {
        int64_t d;
        while (words >> d) graph->input_shape.push_back(d);
      } else if (key == "inputs") {
        words >> graph->inputs;
      } else if (key == "input_type") {
        words >> graph->input_type;
      } else if (!key.empty()) {
        return Status(kMEInvalidInput, "stub: not a stub model file: " + file);
      }
    }
    graph->loaded = true;
    return kSuccess;
  }
};

}  // namespace mindspore
#endif  // STUB_MINDSPORE_INCLUDE_API_SERIALIZATION_H
