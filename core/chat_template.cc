#include "core/chat_template.h"

namespace gs {
namespace {

constexpr std::string_view kImStart = "<|im_start|>";
constexpr std::string_view kImEnd = "<|im_end|>";
constexpr std::string_view kHeaderStart = "<|start_header_id|>";

// Finds a literal "<|im_start|>system\n...<|im_end|>" in the template, the
// default system turn. "\n" may be a real newline or the Jinja escape.
std::string DefaultSystem(const std::string& src) {
  std::string marker = std::string(kImStart) + "system";
  for (size_t pos = src.find(marker); pos != std::string::npos; pos = src.find(marker, pos + 1)) {
    size_t p = pos + marker.size();
    if (src.compare(p, 1, "\n") == 0) {
      p += 1;
    } else if (src.compare(p, 2, "\\n") == 0) {
      p += 2;
    } else {
      continue;  // e.g. "<|im_start|>system' + ..." built from a variable
    }
    size_t end = src.find(kImEnd, p);
    if (end == std::string::npos) continue;
    std::string raw = src.substr(p, end - p);
    if (raw.find_first_of("{}'\"+") != std::string::npos) continue;  // not a literal
    std::string text;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == 'n') {
        text.push_back('\n');
        ++i;
      } else {
        text.push_back(raw[i]);
      }
    }
    return text;
  }
  return "";
}

bool KnownRole(const std::string& role) {
  return role == "system" || role == "user" || role == "assistant";
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\n\r\f\v");
  return s.substr(b, e - b + 1);
}

}  // namespace

ChatTemplate DetectChatTemplate(const std::string& source, bool vocab_has_chatml,
                                bool vocab_has_llama3, const std::string& bos_text) {
  ChatTemplate t;
  if (source.find(kImStart) != std::string::npos) {
    t.format = ChatFormat::kChatML;
  } else if (source.find(kHeaderStart) != std::string::npos) {
    t.format = ChatFormat::kLlama3;
  } else if (source.empty() && vocab_has_chatml) {
    t.format = ChatFormat::kChatML;
  } else if (source.empty() && vocab_has_llama3) {
    t.format = ChatFormat::kLlama3;
  }
  if (t.format == ChatFormat::kChatML) t.default_system = DefaultSystem(source);
  // Llama 3's template writes bos_token itself; an absent template means the
  // same format, so keep the BOS then too.
  if (t.format == ChatFormat::kLlama3 &&
      (source.empty() || source.find("bos_token") != std::string::npos ||
       source.find("<|begin_of_text|>") != std::string::npos)) {
    t.bos_text = bos_text;
  }
  return t;
}

StatusOr<std::string> RenderChat(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) {
  for (const ChatMessage& m : messages) {
    if (!KnownRole(m.role)) {
      return Status::InvalidArgument("unknown chat role '" + m.role +
                                     "' (expected system, user or assistant)");
    }
  }
  std::string out;
  switch (tmpl.format) {
    case ChatFormat::kChatML:
      if (!tmpl.default_system.empty() && (messages.empty() || messages[0].role != "system")) {
        // The template writes it inside its loop, so an empty conversation gets none.
        if (!messages.empty()) {
          out +=
              std::string(kImStart) + "system\n" + tmpl.default_system + std::string(kImEnd) + "\n";
        }
      }
      for (const ChatMessage& m : messages) {
        out += std::string(kImStart) + m.role + "\n" + m.content + std::string(kImEnd) + "\n";
      }
      if (add_generation_prompt) out += std::string(kImStart) + "assistant\n";
      return out;
    case ChatFormat::kLlama3:
      out = tmpl.bos_text;
      for (const ChatMessage& m : messages) {
        out += std::string(kHeaderStart) + m.role + "<|end_header_id|>\n\n" + Trim(m.content) +
               "<|eot_id|>";
      }
      if (add_generation_prompt)
        out += std::string(kHeaderStart) + "assistant<|end_header_id|>\n\n";
      return out;
    case ChatFormat::kNone:
      break;
  }
  return Status::Unimplemented("the model has no chat template we can render");
}

}  // namespace gs
