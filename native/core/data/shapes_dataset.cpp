// The embedded default data set: 10 classes of shapes and patterns drawn with integer arithmetic from
// a splitmix64 stream, so the same seed gives the same bytes on every machine. Each image gets its
// own stream (seed, index), which keeps images independent of how many were generated before them.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "netlens/data.h"
#include "netlens/data_loader.h"

namespace netlens::data {
namespace {

enum ShapeClass { Circle, Square, Triangle, Cross, HorizontalStripes, VerticalStripes, Checkerboard, Diagonal, Ring, Dots };

int64_t uniformIn(uint64_t& state, int64_t low, int64_t high) {  // inclusive bounds
  return low + static_cast<int64_t>(randomBelow(state, static_cast<uint64_t>(high - low + 1)));
}

/** Geometry of one image: a shape around (cx, cy) with radius r, or a pattern inside a box. */
struct Geometry {
  int64_t cx, cy, radius, thickness;
  int64_t boxLeft, boxTop, boxRight, boxBottom;
  int64_t period, phase;
  bool flipped;
};

Geometry drawGeometry(uint64_t& state, int64_t side) {
  Geometry g{};
  g.radius = uniformIn(state, side / 6, side / 3);
  g.cx = uniformIn(state, g.radius, side - 1 - g.radius);
  g.cy = uniformIn(state, g.radius, side - 1 - g.radius);
  g.thickness = std::max<int64_t>(1, g.radius / 3);
  const int64_t boxWidth = uniformIn(state, side / 2, side - 2);
  const int64_t boxHeight = uniformIn(state, side / 2, side - 2);
  g.boxLeft = uniformIn(state, 0, side - boxWidth);
  g.boxTop = uniformIn(state, 0, side - boxHeight);
  g.boxRight = g.boxLeft + boxWidth;
  g.boxBottom = g.boxTop + boxHeight;
  g.period = uniformIn(state, 2, 4);
  g.phase = uniformIn(state, 0, 7);
  g.flipped = randomBelow(state, 2) == 1;
  return g;
}

bool covers(int cls, const Geometry& g, int64_t x, int64_t y) {
  const int64_t dx = x - g.cx;
  const int64_t dy = y - g.cy;
  const int64_t squaredDistance = dx * dx + dy * dy;
  const bool inBox = x >= g.boxLeft && x < g.boxRight && y >= g.boxTop && y < g.boxBottom;
  const int64_t bx = x - g.boxLeft;
  const int64_t by = y - g.boxTop;
  switch (cls) {
    case Circle:
      return squaredDistance <= g.radius * g.radius;
    case Square:
      return std::max(std::abs(dx), std::abs(dy)) <= g.radius * 7 / 8;
    case Triangle: {
      const int64_t fromApex = (g.flipped ? -dy : dy) + g.radius;
      return fromApex >= 0 && fromApex <= 2 * g.radius && 2 * std::abs(dx) <= fromApex;
    }
    case Cross:
      return (std::abs(dx) <= g.thickness && std::abs(dy) <= g.radius) ||
             (std::abs(dy) <= g.thickness && std::abs(dx) <= g.radius);
    case HorizontalStripes:
      return inBox && ((by + g.phase) / g.period) % 2 == 0;
    case VerticalStripes:
      return inBox && ((bx + g.phase) / g.period) % 2 == 0;
    case Checkerboard:
      return inBox && ((bx / (g.period + 1)) + (by / (g.period + 1))) % 2 == 0;
    case Diagonal: {
      const int64_t along = g.flipped ? bx + by : bx + (g.boxBottom - g.boxTop) - by;
      return inBox && ((along + g.phase) / g.period) % 2 == 0;
    }
    case Ring: {
      const int64_t inner = std::max<int64_t>(1, g.radius - std::max<int64_t>(2, g.radius / 3));
      return squaredDistance <= g.radius * g.radius && squaredDistance > inner * inner;
    }
    case Dots:
      return inBox && (bx + g.phase) % (g.period + 3) < 2 && (by + g.phase) % (g.period + 3) < 2;
    default:
      return false;
  }
}

int64_t luminance(const int64_t rgb[3]) { return (77 * rgb[0] + 150 * rgb[1] + 29 * rgb[2]) >> 8; }

}  // namespace

const std::vector<std::string>& shapesClassNames() {
  static const std::vector<std::string> names = {"circle",    "square",       "triangle", "cross", "horizontal stripes",
                                                 "vertical stripes", "checkerboard", "diagonal", "ring",  "dots"};
  return names;
}

Dataset generateShapes(ShapesVariant variant, int64_t count, uint64_t seed) {
  Dataset dataset;
  const bool rgb = variant == ShapesVariant::Rgb32;
  dataset.name = rgb ? "shapes32" : "shapes28";
  dataset.channels = rgb ? 3 : 1;
  dataset.height = dataset.width = rgb ? 32 : 28;
  dataset.classNames = shapesClassNames();
  const int64_t side = dataset.height;
  const int64_t plane = side * side;
  dataset.pixelBytes.resize(static_cast<size_t>(count * dataset.sampleSize()));
  dataset.labels.resize(static_cast<size_t>(count));
  for (int64_t index = 0; index < count; ++index) {
    const int cls = static_cast<int>(index % 10);
    dataset.labels[static_cast<size_t>(index)] = cls;
    uint64_t state = seed * 0x2545F4914F6CDD1DULL + static_cast<uint64_t>(index);
    splitMix64(state);
    // Colours differ in brightness by at least 64 levels so gray images keep the shape visible.
    int64_t background[3];
    int64_t foreground[3];
    do {
      for (int c = 0; c < 3; ++c) background[c] = uniformIn(state, 0, 255);
      for (int c = 0; c < 3; ++c) foreground[c] = uniformIn(state, 0, 255);
      if (!rgb) {
        background[1] = background[2] = background[0];
        foreground[1] = foreground[2] = foreground[0];
      }
    } while (std::abs(luminance(foreground) - luminance(background)) < 64);
    const Geometry geometry = drawGeometry(state, side);
    const int64_t noise = uniformIn(state, 0, 48);
    uint8_t* image = dataset.pixelBytes.data() + index * dataset.sampleSize();
    for (int64_t y = 0; y < side; ++y) {
      for (int64_t x = 0; x < side; ++x) {
        const int64_t* colour = covers(cls, geometry, x, y) ? foreground : background;
        for (int64_t c = 0; c < dataset.channels; ++c) {
          const int64_t jitter = noise == 0 ? 0 : uniformIn(state, -noise, noise);
          const int64_t value = rgb ? colour[c] : luminance(colour);
          image[c * plane + y * side + x] = static_cast<uint8_t>(std::clamp<int64_t>(value + jitter, 0, 255));
        }
      }
    }
  }
  dataset.measureNormalization();
  return dataset;
}

Dataset defaultDataset(ShapesVariant variant, bool train, uint64_t seed) {
  // The test split's seed is derived so that it never repeats a training image's stream.
  return train ? generateShapes(variant, kShapesTrainCount, seed)
               : generateShapes(variant, kShapesTestCount, seed ^ 0x7E57DA7A5E7ULL);
}

uint64_t datasetChecksum(const Dataset& dataset) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  const auto mix = [&hash](uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      hash ^= (value >> (8 * i)) & 0xff;
      hash *= 0x100000001b3ULL;
    }
  };
  mix(static_cast<uint64_t>(dataset.channels), 8);
  mix(static_cast<uint64_t>(dataset.height), 8);
  mix(static_cast<uint64_t>(dataset.width), 8);
  for (const uint8_t byte : dataset.pixelBytes) mix(byte, 1);
  for (const float value : dataset.pixelFloats) {
    uint32_t bits = 0;
    static_assert(sizeof(bits) == sizeof(value));
    std::memcpy(&bits, &value, sizeof bits);
    mix(bits, 4);
  }
  for (const int64_t label : dataset.labels) mix(static_cast<uint64_t>(label), 8);
  return hash;
}

}  // namespace netlens::data
