#include "config/yaml_document.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>
#include <vector>

namespace edwc::config {

namespace {

// Where each document of a YAML stream, and its root node, starts; builds nothing.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> documents, roots;

  void OnDocumentStart(const YAML::Mark& mark) override { documents.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Root(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Root(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Root(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Root(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Root(mark);
  }
  void OnMapEnd() override {}

 private:
  void Root(const YAML::Mark& mark) {
    if (roots.size() < documents.size()) roots.push_back(mark);
  }
};

}  // namespace

YamlDocument ParseOneYamlDocument(const std::string& text) {
  YamlDocument out;
  try {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentStarts starts;
    size_t count = 0;
    while (count < 2 && parser.HandleNextDocument(starts)) ++count;
    if (count > 1) {
      out.mark = starts.roots.size() > 1 ? starts.roots[1] : starts.documents[1];
      const bool stuck = starts.documents[1].pos == starts.documents[0].pos;
      out.problem = stuck ? "not valid YAML here" : "only one YAML document is allowed";
    } else if (count == 1) {
      out.root = YAML::Load(text);
    }
  } catch (const YAML::Exception& e) {
    out.mark = e.mark;
    out.problem = e.msg;
  }
  return out;
}

}  // namespace edwc::config
