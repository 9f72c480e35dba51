// A small strict JSON reader (RFC 8259) for the engine graph spec and test goldens; the core has no
// third-party dependency, so a fresh machine builds it with a compiler alone.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace netlens {

class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class JsonValue {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<JsonValue>;
  /** Members in document order; duplicate keys are rejected by the parser. */
  using Object = std::vector<std::pair<std::string, JsonValue>>;

  JsonValue() = default;
  static JsonValue makeBool(bool value);
  static JsonValue makeNumber(double value);
  static JsonValue makeString(std::string value);
  static JsonValue makeArray(Array items);
  static JsonValue makeObject(Object members);

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isNumber() const { return kind_ == Kind::Number; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  // Accessors throw JsonError naming the expected kind when the value is of another kind.
  bool asBool() const;
  double asNumber() const;
  /** The number as an integer; throws when it has a fractional part or is out of range. */
  int64_t asInt() const;
  const std::string& asString() const;
  const Array& asArray() const;
  const Object& asObject() const;

  /** Member `key` of an object, or nullptr when absent (throws when this is not an object). */
  const JsonValue* find(const std::string& key) const;
  /** Member `key` of an object; throws JsonError when absent. */
  const JsonValue& at(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  std::shared_ptr<const Array> array_;
  std::shared_ptr<const Object> object_;
};

const char* jsonKindName(JsonValue::Kind kind);

/** Parses a whole document; throws JsonError with the byte offset of the first problem. */
JsonValue parseJson(const std::string& text);

}  // namespace netlens
