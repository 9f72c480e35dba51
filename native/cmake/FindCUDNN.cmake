# Finds cuDNN 9 headers (required) and the directory of libcudnn.so.9 (optional).
#
# Netlens never links cuDNN: it is loaded with dlopen at run time so the add-on loads where cuDNN is
# absent. The headers give the function types; the library directory found here becomes one of the
# places the run-time loader tries.
#
# Looked for in: -DCUDNN_ROOT, env CUDNN_ROOT, NETLENS_CUDNN_WHEEL (below), env CUDA_HOME / CUDA_PATH, the CUDA toolkit, NVIDIA's
# pip wheel (site-packages/nvidia/cudnn of python3, when such a wheel is installed) and the project's
# .cache/cudnn (an unpacked wheel). The wheel ships only libcudnn.so.9 (no unversioned symlink).
#
# Defines: CUDNN_FOUND, CUDNN_INCLUDE_DIR, CUDNN_VERSION, CUDNN_LIBRARY (may be NOTFOUND),
# CUDNN_LIBRARY_DIR (may be empty), and the imported target CUDNN::headers.

# NETLENS_CUDNN_WHEEL (CMake variable or environment): a downloaded nvidia-cudnn-cu13/cu12 wheel;
# only its headers are unpacked (into the build tree), the wheel's 500+ MB of libraries are not.
if(NOT NETLENS_CUDNN_WHEEL AND DEFINED ENV{NETLENS_CUDNN_WHEEL})
  set(NETLENS_CUDNN_WHEEL "$ENV{NETLENS_CUDNN_WHEEL}")
endif()
set(_cudnn_wheel_headers "")
if(NETLENS_CUDNN_WHEEL)
  if(NOT EXISTS "${NETLENS_CUDNN_WHEEL}")
    message(WARNING "NETLENS_CUDNN_WHEEL=${NETLENS_CUDNN_WHEEL} does not exist")
  else()
    set(_cudnn_wheel_headers "${CMAKE_BINARY_DIR}/cudnn-wheel")
    if(NOT EXISTS "${_cudnn_wheel_headers}/nvidia/cudnn/include/cudnn.h")
      file(MAKE_DIRECTORY "${_cudnn_wheel_headers}")
      execute_process(
        COMMAND ${CMAKE_COMMAND} -E tar xf "${NETLENS_CUDNN_WHEEL}" nvidia/cudnn/include
        WORKING_DIRECTORY "${_cudnn_wheel_headers}" RESULT_VARIABLE _cudnn_untar)
      if(NOT _cudnn_untar EQUAL 0)
        message(WARNING "could not unpack the cuDNN headers from ${NETLENS_CUDNN_WHEEL}")
      endif()
    endif()
  endif()
endif()

set(_cudnn_roots ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${_cudnn_wheel_headers} $ENV{CUDA_HOME} $ENV{CUDA_PATH})
if(CUDAToolkit_LIBRARY_ROOT)
  list(APPEND _cudnn_roots ${CUDAToolkit_LIBRARY_ROOT})
endif()

find_program(_cudnn_python NAMES python3 python)
if(_cudnn_python)
  execute_process(
    COMMAND ${_cudnn_python} -c
      "import importlib.util as u; s = u.find_spec('nvidia.cudnn'); print(list(s.submodule_search_locations)[0] if s else '')"
    OUTPUT_VARIABLE _cudnn_wheel_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_cudnn_wheel_dir)
    list(APPEND _cudnn_roots ${_cudnn_wheel_dir})
  endif()
endif()
list(APPEND _cudnn_roots "${PROJECT_SOURCE_DIR}/.cache/cudnn")

find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${_cudnn_roots} ${CUDAToolkit_INCLUDE_DIRS}
  PATH_SUFFIXES include nvidia/cudnn/include)
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
  HINTS ${_cudnn_roots}
  PATH_SUFFIXES lib lib64 lib/x64 nvidia/cudnn/lib)

if(CUDNN_INCLUDE_DIR AND EXISTS "${CUDNN_INCLUDE_DIR}/cudnn_version.h")
  file(STRINGS "${CUDNN_INCLUDE_DIR}/cudnn_version.h" _cudnn_version_lines
    REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) +[0-9]+")
  foreach(_part MAJOR MINOR PATCHLEVEL)
    string(REGEX MATCH "CUDNN_${_part} +([0-9]+)" _match "${_cudnn_version_lines}")
    set(_cudnn_${_part} "${CMAKE_MATCH_1}")
  endforeach()
  set(CUDNN_VERSION "${_cudnn_MAJOR}.${_cudnn_MINOR}.${_cudnn_PATCHLEVEL}")
endif()

set(CUDNN_LIBRARY_DIR "")
if(CUDNN_LIBRARY)
  get_filename_component(CUDNN_LIBRARY_DIR "${CUDNN_LIBRARY}" DIRECTORY)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN REQUIRED_VARS CUDNN_INCLUDE_DIR VERSION_VAR CUDNN_VERSION)

if(CUDNN_FOUND AND NOT TARGET CUDNN::headers)
  add_library(CUDNN::headers INTERFACE IMPORTED)
  set_target_properties(CUDNN::headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
endif()
mark_as_advanced(CUDNN_INCLUDE_DIR CUDNN_LIBRARY _cudnn_python)
