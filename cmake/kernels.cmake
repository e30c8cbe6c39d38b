# gradcore's C core, for the Python module (CMakeLists.txt) and the stand-alone kernel
# driver of the build-variant tests (tests/CMakeLists.txt).
#
#   gradcore_add_kernels(<target>)
#
# compiles into <target>:
#   src/layers.c   once per kernel level and floating type, each with its level's flags:
#                    naive     -DGC_NAIVE: the plain loops only
#                    portable  the compiler's default target (needs the vector extensions)
#                    avx2      -march=x86-64-v3  } x86-64 only, chosen at run time
#                    avx512    -march=x86-64-v4  }
#                  each exports its table as gc_layers_<level>_<f64|f32>
#   src/network.c  once per floating type (GC_FLOAT32 for float), with the list of that
#                  type's tables in GC_LAYER_TABLES
#   src/kernels.c, src/dispatch.c (GC_LEVELS_BUILT: how many levels), src/interrupt.c,
#                  src/pool.c (GC_THREADS: with pthreads)
# No -march=native, no -ffast-math.

include(CheckCSourceCompiles)
include(CheckCCompilerFlag)

option(GRADCORE_VECTOR_EXT "Blocked kernels (GCC/Clang vector extensions); off: naive only" ON)
option(GRADCORE_X86_LEVELS "AVX2 and AVX-512 kernel levels on x86-64, chosen at run time" ON)
option(GRADCORE_THREADS "Threads (pthreads) for large gradient sums; off: one thread" ON)
option(GRADCORE_SANITIZE "Build with -fsanitize=address,undefined" OFF)
option(GRADCORE_WERROR "Warnings in gradcore's C are errors" OFF)

set(GRADCORE_ROOT "${CMAKE_CURRENT_LIST_DIR}/..")

function(gradcore_add_kernels target)
  set(src "${GRADCORE_ROOT}/src")
  set(gnu_like FALSE)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    set(gnu_like TRUE)
  endif()

  # Flags of all of gradcore's C: warnings, vectorised `#pragma omp simd` loops (no OpenMP
  # runtime: the simd pragma only), and the sanitizers when asked for.
  set(flags "")
  set(link_flags "")
  if(gnu_like)
    list(APPEND flags -O3 -Wall -Wextra -fopenmp-simd)
  endif()
  if(GRADCORE_WERROR)
    list(APPEND flags -Werror)
  endif()
  if(GRADCORE_SANITIZE)
    list(APPEND flags -fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined -g)
    list(APPEND link_flags -fsanitize=address,undefined)
  endif()

  # The levels. The blocked kernels need the vector extensions (vector_size types,
  # __builtin_convertvector: GCC >= 9, Clang); other compilers (MSVC) get the naive ones.
  set(levels naive)
  set(vector_ext FALSE)
  if(GRADCORE_VECTOR_EXT AND gnu_like AND NOT (CMAKE_C_COMPILER_ID STREQUAL "GNU" AND
                                               CMAKE_C_COMPILER_VERSION VERSION_LESS 9))
    set(vector_ext TRUE)
    list(APPEND levels portable)
  endif()
  check_c_source_compiles(
    "#ifndef __x86_64__\n#error not x86-64\n#endif\nint main(void) { return 0; }"
    GRADCORE_TARGET_X86_64)
  check_c_compiler_flag(-march=x86-64-v4 GRADCORE_HAS_MARCH_V4)
  if(vector_ext AND GRADCORE_X86_LEVELS AND GRADCORE_TARGET_X86_64 AND GRADCORE_HAS_MARCH_V4)
    list(APPEND levels avx2 avx512)
  endif()
  set(level_flags_naive -DGC_NAIVE)
  set(level_flags_portable "")
  set(level_flags_avx2 -march=x86-64-v3)
  set(level_flags_avx512 -march=x86-64-v4)
  list(LENGTH levels n_levels)
  message(STATUS "gradcore: kernel levels ${levels}")

  # Threads: gradcore's own pool (src/pool.c) on pthreads, with GCC or Clang. Without them
  # (GRADCORE_THREADS=OFF, MSVC) every kernel call runs on its caller's thread.
  set(threads FALSE)
  if(GRADCORE_THREADS AND gnu_like)
    set(THREADS_PREFER_PTHREAD_FLAG ON)
    find_package(Threads)
    if(CMAKE_USE_PTHREADS_INIT)
      set(threads TRUE)
    endif()
  endif()

  set(objects "")
  foreach(type f64 f32)
    set(type_defs "")
    if(type STREQUAL "f32")
      set(type_defs GC_FLOAT32)
    endif()
    set(tables "")
    foreach(level ${levels})
      set(obj ${target}_layers_${level}_${type})
      add_library(${obj} OBJECT "${src}/layers.c")
      target_compile_definitions(${obj} PRIVATE ${type_defs}
                                              GC_LAYER_TABLE=gc_layers_${level}_${type})
      target_compile_options(${obj} PRIVATE ${flags} ${level_flags_${level}})
      list(APPEND objects ${obj})
      list(APPEND tables gc_layers_${level}_${type})
    endforeach()
    string(REPLACE ";" "," tables "${tables}")
    set(obj ${target}_network_${type})
    add_library(${obj} OBJECT "${src}/network.c")
    target_compile_definitions(${obj} PRIVATE ${type_defs} "GC_LAYER_TABLES=${tables}")
    target_compile_options(${obj} PRIVATE ${flags})
    list(APPEND objects ${obj})
  endforeach()
  set(obj ${target}_core)
  add_library(${obj} OBJECT "${src}/kernels.c" "${src}/dispatch.c" "${src}/interrupt.c"
                            "${src}/pool.c")
  target_compile_definitions(${obj} PRIVATE GC_LEVELS_BUILT=${n_levels})
  if(threads)
    target_compile_definitions(${obj} PRIVATE GC_THREADS)
    target_link_libraries(${obj} PRIVATE Threads::Threads)
  endif()
  target_compile_options(${obj} PRIVATE ${flags})
  list(APPEND objects ${obj})

  foreach(obj ${objects})
    target_include_directories(${obj} PRIVATE "${src}")
    set_target_properties(${obj} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON
                                            POSITION_INDEPENDENT_CODE ON)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
  endforeach()
  target_include_directories(${target} PRIVATE "${src}")

  if(threads)
    target_link_libraries(${target} PRIVATE Threads::Threads)
    message(STATUS "gradcore: threads (pthreads) enabled")
  else()
    message(STATUS "gradcore: no threads, kernels run on their caller's thread")
  endif()
  if(GRADCORE_SANITIZE)
    target_compile_options(${target} PRIVATE ${flags})
    target_link_options(${target} PRIVATE ${link_flags})
  endif()
  # exp/log1p: the maths library is a separate one on Unix
  if(UNIX)
    target_link_libraries(${target} PRIVATE m)
  endif()
endfunction()
