// The CPU the reference backend runs on.
#pragma once

#include <string>

namespace netlens::cpu {

struct CpuReport {
  int threads = 0;
  std::string model;
  std::string features;
};

CpuReport queryCpu();

}  // namespace netlens::cpu
