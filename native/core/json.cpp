#include "netlens/json.h"

#include <cmath>
#include <cstdlib>

namespace netlens {

const char* jsonKindName(JsonValue::Kind kind) {
  switch (kind) {
    case JsonValue::Kind::Null: return "null";
    case JsonValue::Kind::Bool: return "a boolean";
    case JsonValue::Kind::Number: return "a number";
    case JsonValue::Kind::String: return "a string";
    case JsonValue::Kind::Array: return "an array";
    case JsonValue::Kind::Object: return "an object";
  }
  return "?";
}

JsonValue JsonValue::makeBool(bool value) {
  JsonValue v;
  v.kind_ = Kind::Bool;
  v.bool_ = value;
  return v;
}
JsonValue JsonValue::makeNumber(double value) {
  JsonValue v;
  v.kind_ = Kind::Number;
  v.number_ = value;
  return v;
}
JsonValue JsonValue::makeString(std::string value) {
  JsonValue v;
  v.kind_ = Kind::String;
  v.string_ = std::move(value);
  return v;
}
JsonValue JsonValue::makeArray(Array items) {
  JsonValue v;
  v.kind_ = Kind::Array;
  v.array_ = std::make_shared<const Array>(std::move(items));
  return v;
}
JsonValue JsonValue::makeObject(Object members) {
  JsonValue v;
  v.kind_ = Kind::Object;
  v.object_ = std::make_shared<const Object>(std::move(members));
  return v;
}

namespace {
[[noreturn]] void wrongKind(JsonValue::Kind actual, const char* expected) {
  throw JsonError(std::string("expected ") + expected + ", found " + jsonKindName(actual));
}
}  // namespace

bool JsonValue::asBool() const {
  if (kind_ != Kind::Bool) wrongKind(kind_, "a boolean");
  return bool_;
}
double JsonValue::asNumber() const {
  if (kind_ != Kind::Number) wrongKind(kind_, "a number");
  return number_;
}
int64_t JsonValue::asInt() const {
  const double value = asNumber();
  if (std::trunc(value) != value || std::fabs(value) > 9007199254740992.0) {
    throw JsonError("expected an integer, found " + std::to_string(value));
  }
  return static_cast<int64_t>(value);
}
const std::string& JsonValue::asString() const {
  if (kind_ != Kind::String) wrongKind(kind_, "a string");
  return string_;
}
const JsonValue::Array& JsonValue::asArray() const {
  if (kind_ != Kind::Array) wrongKind(kind_, "an array");
  return *array_;
}
const JsonValue::Object& JsonValue::asObject() const {
  if (kind_ != Kind::Object) wrongKind(kind_, "an object");
  return *object_;
}
const JsonValue* JsonValue::find(const std::string& key) const {
  for (const auto& member : asObject()) {
    if (member.first == key) return &member.second;
  }
  return nullptr;
}
const JsonValue& JsonValue::at(const std::string& key) const {
  const JsonValue* value = find(key);
  if (value == nullptr) throw JsonError("missing key \"" + key + "\"");
  return *value;
}

namespace {

// Nesting beyond this is refused so a hostile document cannot exhaust the stack.
constexpr int kMaxDepth = 256;

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  JsonValue document() {
    skipSpace();
    JsonValue value = parseValue(0);
    skipSpace();
    if (pos_ != text_.size()) fail("unexpected text after the document");
    return value;
  }

 private:
  const std::string& text_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw JsonError("JSON: " + what + " at offset " + std::to_string(pos_));
  }
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }
  void skipSpace() {
    while (!atEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  void literal(const char* word) {
    for (const char* p = word; *p != '\0'; ++p) {
      if (peek() != *p) fail(std::string("invalid literal (expected ") + word + ")");
      ++pos_;
    }
  }

  JsonValue parseValue(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than 256");
    switch (peek()) {
      case '{': return parseObject(depth);
      case '[': return parseArray(depth);
      case '"': return JsonValue::makeString(parseString());
      case 't': literal("true"); return JsonValue::makeBool(true);
      case 'f': literal("false"); return JsonValue::makeBool(false);
      case 'n': literal("null"); return JsonValue();
      default: break;
    }
    if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return JsonValue::makeNumber(parseNumber());
    if (atEnd()) fail("unexpected end of input");
    fail(std::string("unexpected character '") + peek() + "'");
  }

  JsonValue parseObject(int depth) {
    expect('{');
    JsonValue::Object members;
    skipSpace();
    if (peek() == '}') {
      ++pos_;
      return JsonValue::makeObject(std::move(members));
    }
    for (;;) {
      skipSpace();
      if (peek() != '"') fail("expected a string key");
      std::string key = parseString();
      for (const auto& member : members) {
        if (member.first == key) fail("duplicate key \"" + key + "\"");
      }
      skipSpace();
      expect(':');
      skipSpace();
      JsonValue value = parseValue(depth + 1);
      members.emplace_back(std::move(key), std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return JsonValue::makeObject(std::move(members));
    }
  }

  JsonValue parseArray(int depth) {
    expect('[');
    JsonValue::Array items;
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      return JsonValue::makeArray(std::move(items));
    }
    for (;;) {
      skipSpace();
      items.push_back(parseValue(depth + 1));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return JsonValue::makeArray(std::move(items));
    }
  }

  unsigned hex4() {
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      unsigned digit;
      if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') digit = static_cast<unsigned>(c - 'A' + 10);
      else fail("invalid \\u escape");
      code = code * 16 + digit;
      ++pos_;
    }
    return code;
  }

  static void appendUtf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  std::string parseString() {
    expect('"');
    std::string out;
    for (;;) {
      if (atEnd()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      const char escape = peek();
      ++pos_;
      switch (escape) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code = hex4();
          if (code >= 0xD800 && code < 0xDC00) {
            if (peek() != '\\') fail("unpaired surrogate");
            ++pos_;
            if (peek() != 'u') fail("unpaired surrogate");
            ++pos_;
            const unsigned low = hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("invalid low surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code < 0xE000) {
            fail("unpaired surrogate");
          }
          appendUtf8(out, code);
          break;
        }
        default: --pos_; fail("invalid escape");
      }
    }
  }

  double parseNumber() {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++pos_;
    } else {
      fail("invalid number");
    }
    if (peek() == '.') {
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) fail("invalid number: digit expected after '.'");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) fail("invalid number: digit expected in exponent");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    // strtod on the validated span; the "C" locale is what the engine process runs under.
    const std::string span = text_.substr(start, pos_ - start);
    return std::strtod(span.c_str(), nullptr);
  }
};

}  // namespace

JsonValue parseJson(const std::string& text) { return Parser(text).document(); }

}  // namespace netlens
