// The user's source line for a node, from the Python traceback text that
// torch.export records in node metadata ("stack_trace"). Frames run outermost
// first, so the innermost frame that is not library code is the user's line.
#include <cctype>
#include <string>
#include <vector>

#include "frontend/export_program.h"

namespace ingot::frontend {

namespace {

struct Frame {
  std::string path;
  std::string line;
  std::string code;
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// 'File "/x/y/model.py", line 42, in forward' followed by the code line.
std::vector<Frame> parse_frames(const std::string& trace) {
  std::vector<Frame> frames;
  size_t pos = 0;
  while (pos < trace.size()) {
    size_t eol = trace.find('\n', pos);
    std::string line = trace.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? trace.size() : eol + 1;
    std::string t = trim(line);
    if (t.rfind("File \"", 0) == 0) {
      size_t close = t.find('"', 6);
      if (close == std::string::npos) continue;
      Frame f;
      f.path = t.substr(6, close - 6);
      size_t ln = t.find(", line ", close);
      if (ln != std::string::npos) {
        size_t start = ln + 7, end = start;
        while (end < t.size() && isdigit(static_cast<unsigned char>(t[end]))) ++end;
        f.line = t.substr(start, end - start);
      }
      frames.push_back(std::move(f));
    } else if (!frames.empty() && frames.back().code.empty() && !t.empty()) {
      frames.back().code = t;
    }
  }
  return frames;
}

bool in_package(const std::string& path, const char* pkg) {
  std::string p = std::string("/") + pkg + "/";
  return path.find(p) != std::string::npos || path.rfind(std::string(pkg) + "/", 0) == 0;
}

bool is_torch(const std::string& path) { return in_package(path, "torch") || in_package(path, "torchgen"); }
bool is_library(const std::string& path) {
  return is_torch(path) || in_package(path, "site-packages") || in_package(path, "dist-packages") ||
         in_package(path, "transformers") || in_package(path, "torchvision") || path.rfind("<", 0) == 0;
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::pair<std::string, std::string> user_source_location(const NodeDef& node) {
  auto it = node.metadata.find("stack_trace");
  if (it == node.metadata.end()) return {};
  std::vector<Frame> frames = parse_frames(it->second);
  // Prefer the user's own code; a model that lives inside a library (a HF model
  // exported as is) still gets the innermost frame outside torch itself.
  const Frame* pick = nullptr;
  for (auto f = frames.rbegin(); f != frames.rend() && !pick; ++f)
    if (!is_library(f->path)) pick = &*f;
  for (auto f = frames.rbegin(); f != frames.rend() && !pick; ++f)
    if (!is_torch(f->path)) pick = &*f;
  if (!pick) return {};
  std::string loc = base_name(pick->path);
  if (!pick->line.empty()) loc += ":" + pick->line;
  return {loc, pick->code};
}

}  // namespace ingot::frontend
