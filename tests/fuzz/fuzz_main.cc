// A standalone driver for libFuzzer-style targets, so that every target runs
// under a plain `bazel test` with any compiler: it replays the seed corpus
// (files or folders given as arguments) and then a bounded number of seeded
// mutations of it. Real coverage-guided fuzzing uses the `*_fuzzer` binaries
// built with --config=fuzz (see the README).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Input = std::vector<uint8_t>;

void Collect(const std::filesystem::path& path, std::vector<Input>* corpus) {
  if (std::filesystem::is_directory(path)) {
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      Collect(entry.path(), corpus);
    }
    return;
  }
  std::ifstream in(path, std::ios::binary);
  corpus->emplace_back(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed | 1) {}
  uint64_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  size_t Below(size_t n) { return n == 0 ? 0 : Next() % n; }

 private:
  uint64_t state_;
};

Input Mutate(const std::vector<Input>& corpus, Rng& rng) {
  Input input = corpus[rng.Below(corpus.size())];
  const int edits = 1 + static_cast<int>(rng.Below(4));
  for (int e = 0; e < edits; ++e) {
    switch (rng.Below(6)) {
      case 0:  // Flip a bit.
        if (!input.empty()) input[rng.Below(input.size())] ^= 1 << rng.Below(8);
        break;
      case 1:  // Set a byte to an interesting value.
        if (!input.empty()) {
          static const uint8_t kValues[] = {0, 1, 0x7f, 0x80, 0xff, '\r', '\n'};
          input[rng.Below(input.size())] = kValues[rng.Below(sizeof kValues)];
        }
        break;
      case 2:  // Insert random bytes.
        for (size_t n = 1 + rng.Below(8); n > 0; --n) {
          input.insert(input.begin() + rng.Below(input.size() + 1),
                       static_cast<uint8_t>(rng.Next()));
        }
        break;
      case 3:  // Truncate.
        input.resize(rng.Below(input.size() + 1));
        break;
      case 4: {  // Splice in part of another input.
        const Input& other = corpus[rng.Below(corpus.size())];
        if (other.empty()) break;
        const size_t from = rng.Below(other.size());
        const size_t len = 1 + rng.Below(other.size() - from);
        input.insert(input.begin() + rng.Below(input.size() + 1),
                     other.begin() + from, other.begin() + from + len);
        break;
      }
      case 5:  // Duplicate a range.
        if (!input.empty()) {
          const size_t from = rng.Below(input.size());
          const size_t len = 1 + rng.Below(input.size() - from);
          Input copy(input.begin() + from, input.begin() + from + len);
          input.insert(input.begin() + rng.Below(input.size() + 1),
                       copy.begin(), copy.end());
        }
        break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Input> corpus;
  for (int i = 1; i < argc; ++i) Collect(argv[i], &corpus);
  if (corpus.empty()) corpus.push_back({});
  for (const Input& input : corpus) {
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  const char* env = std::getenv("FUZZ_ITERATIONS");
  const long iterations = env != nullptr ? std::atol(env) : 50000;
  Rng rng(0x7f7f1234abcdULL);
  for (long i = 0; i < iterations; ++i) {
    const Input input = Mutate(corpus, rng);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("%zu seeds and %ld mutations ran without a fault\n",
              corpus.size(), iterations);
  return 0;
}
