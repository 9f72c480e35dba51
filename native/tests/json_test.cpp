// The core's JSON reader: accepts RFC 8259 documents, rejects everything else with an offset.
#include <cmath>
#include <string>

#include "netlens/json.h"
#include "test_support.h"

using namespace netlens;
using netlens::test::check;
using netlens::test::expectThrows;

int main() {
  const JsonValue doc = parseJson(
      R"( {"a": [1, -2.5e3, 0.125, true, false, null], "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "o": {}, "e": []} )");
  const JsonValue::Array& a = doc.at("a").asArray();
  check(a.size() == 6, "array length");
  check(a[0].asInt() == 1, "integer");
  check(a[1].asNumber() == -2500.0, "exponent");
  check(a[2].asNumber() == 0.125, "fraction");
  check(a[3].asBool() && !a[4].asBool() && a[5].isNull(), "literals");
  check(doc.at("s").asString() == "q\"\\/\b\f\n\r\t\xC3\xA9\xF0\x9F\x98\x80", "escapes and UTF-8 from \\u and surrogates");
  check(doc.at("o").asObject().empty() && doc.at("e").asArray().empty(), "empty containers");
  check(doc.asObject()[0].first == "a" && doc.asObject()[3].first == "e", "members keep document order");
  check(doc.find("missing") == nullptr, "find of an absent key");
  check(parseJson("0.1").asNumber() == 0.1, "0.1 parses to the nearest double");
  check(parseJson("1e400").asNumber() == INFINITY, "overflow is infinity (strtod), not an error");

  const char* invalid[] = {
      "",           "{",          "[1,]",        "{\"a\":1,}", "01",          "1.",        ".5",      "+1",
      "-",          "1e",         "tru",         "nul",        "'a'",         "\"a",       "\"\\x\"", "\"\\u12\"",
      "\"\\ud800\"", "[1 2]",     "{\"a\" 1}",   "{1:2}",      "[1] x",       "\"a\tb\"",  "NaN",     "{\"a\":1,\"a\":2}",
  };
  for (const char* text : invalid) {
    expectThrows([&] { parseJson(text); }, "JSON:", std::string("rejects ") + text);
  }
  expectThrows([] { parseJson("[1, }"); }, "offset 4", "error names the offset");
  expectThrows([] { parseJson(std::string(300, '[') + std::string(300, ']')); }, "nesting", "deep nesting is refused");
  expectThrows([] { parseJson("{}").at("x"); }, "missing key \"x\"", "at() names the key");
  expectThrows([] { parseJson("1.5").asInt(); }, "integer", "asInt refuses fractions");
  expectThrows([] { parseJson("\"s\"").asNumber(); }, "expected a number, found a string", "kind errors");
  return test::finish("json_test");
}
