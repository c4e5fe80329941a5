// Where an IR node or engine step came from in the user's model.
#pragma once
#include <string>

namespace ingot {

struct SourceInfo {
  std::string node_name;    // FX node name in the .pt2 ("convolution_3"), or several joined by '+'
  std::string aten_target;  // "aten.convolution.default"
  std::string location;     // user's "model.py:42" (may be empty)
  std::string code;         // that source line's text, when recorded
};

}  // namespace ingot
