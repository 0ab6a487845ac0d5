# Convenience wrapper around CMake. The two commands of the README:
#   make demo   build and run the main job (text-to-video)
#   make test   build and run the whole CPU test suite (+ sanitizers, fuzzing)
#   make install [PREFIX=/usr/local]   the command, libvidsparse (.a, .so), vidsparse.h,
#                vidsparse.pc and the embedded model under PREFIX
# and for the accelerator machine:
#   make test-gpu   build with CUDA and run every GPU test

BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE      ?= cmake
PREFIX     ?= /usr/local
FUZZ_SECONDS ?= 60

.PHONY: all deps build demo test test-gpu install clean format

all: build

deps:
	@bash tools/install_deps.sh

build: deps
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	$(CMAKE) --build $(BUILD) -j $(JOBS)

demo: build
	@bash tools/demo.sh $(BUILD)

test: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) bash tests/run.sh

# The prefix is configured in: the command looks for the embedded model under it.
install: deps
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	$(CMAKE) --build $(BUILD) -j $(JOBS)
	$(CMAKE) --install $(BUILD)

test-gpu:
	@JOBS=$(JOBS) bash tests/gpu/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cu' '*.cuh')

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-gpu
