// The chat formats we render without a Jinja engine: ChatML (SmolLM2,
// Qwen2) and Llama 3's header format. Recognised from the model's template
// string (or its vocabulary when the template is missing).
#pragma once

#include <string>
#include <vector>

#include "kernels/status.h"

namespace gs {

struct ChatMessage {
  std::string role;  // system, user or assistant
  std::string content;
};

enum class ChatFormat { kNone, kChatML, kLlama3 };

struct ChatTemplate {
  ChatFormat format = ChatFormat::kNone;
  // ChatML templates that write a system turn when the conversation has none
  // (SmolLM2-Instruct, Qwen2-Instruct): that turn's text.
  std::string default_system;
  std::string bos_text;  // Llama 3: written before the first message
};

// `source` is the template string (may be empty); the flags say which
// format's markers the vocabulary holds.
ChatTemplate DetectChatTemplate(const std::string& source, bool vocab_has_chatml,
                                bool vocab_has_llama3, const std::string& bos_text);

StatusOr<std::string> RenderChat(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt);

}  // namespace gs
