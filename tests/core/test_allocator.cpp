// The caching allocator: after one warm-up iteration a training loop allocates nothing new.
#include <doctest/doctest.h>

#include "core/allocator.h"
#include "core/ops.h"

using namespace qkv;

TEST_CASE("allocator: a freed block is reused for the next request of its size class") {
  AllocatorStats before = allocator_stats();
  { Tensor a = Tensor::empty({1000}); }
  { Tensor b = Tensor::empty({1001}); }  // same 64-byte class as 1000 floats
  AllocatorStats after = allocator_stats();
#ifndef QKV_NO_ALLOC_CACHE
  CHECK(after.hits - before.hits >= 1);
  CHECK(after.bytes_cached >= 4032);
#endif
  CHECK(after.bytes_in_use == before.bytes_in_use);
}

TEST_CASE("allocator: the peak of bytes in use is a high-water mark that reset_peak_bytes() restarts") {
  reset_peak_bytes();
  const int64_t base = allocator_stats().bytes_in_use;
  CHECK(allocator_stats().peak_bytes_in_use == base);
  auto in_use = [&] { return allocator_stats().bytes_in_use - base; };
  int64_t small = 0, large = 0;
  {
    Tensor a = Tensor::empty({1000});  // 4,000 bytes: rounded to 64 bytes, 4,032
    small = in_use();
    {
      Tensor b = Tensor::empty({100000});  // 400,000 bytes: above 64 KiB, 13 steps of 2^18 / 8, 425,984
      large = in_use() - small;
    }
    CHECK(in_use() == small);  // b is back, yet the peak remembers it
    CHECK(allocator_stats().peak_bytes_in_use == base + small + large);
  }
  CHECK(small == 4032);
  CHECK(large == 425984);
  CHECK(in_use() == 0);
  CHECK(allocator_stats().peak_bytes_in_use == base + small + large);
  reset_peak_bytes();
  CHECK(allocator_stats().peak_bytes_in_use == base);
  {
    Tensor c = Tensor::empty({1000});
    CHECK(allocator_stats().peak_bytes_in_use == base + small);
  }
  CHECK(allocator_stats().peak_bytes_in_use == base + small);
}

TEST_CASE("allocator: 1,000 MLP training iterations keep memory flat and make no misses after the first") {
  Rng rng(1);
  Tensor x = Tensor::randn({32, 20}, rng);
  std::vector<int32_t> labels(32);
  for (auto& l : labels) l = static_cast<int32_t>(rng.next_u32() % 5);
  Ids y(labels, {32});
  Tensor w1 = Tensor::randn({64, 20}, rng, 0.2f).set_requires_grad(true);
  Tensor b1 = Tensor::zeros({64}).set_requires_grad(true);
  Tensor w2 = Tensor::randn({5, 64}, rng, 0.2f).set_requires_grad(true);
  Tensor b2 = Tensor::zeros({5}).set_requires_grad(true);
  std::vector<Tensor*> params{&w1, &b1, &w2, &b2};
  auto step = [&] {
    Tensor h = gelu(matmul(x, w1, false, true) + b1);
    Tensor loss = cross_entropy(matmul(h, w2, false, true) + b2, y);
    for (Tensor* p : params) p->zero_grad();
    loss.backward();
    NoGrad no_grad;
    for (Tensor* p : params)
      for (int64_t i = 0; i < p->numel(); ++i) p->data()[i] -= 0.1f * p->grad().data()[i];
    return loss.item();
  };
  float first = step();
  AllocatorStats warm = allocator_stats();
  float last = 0;
  for (int i = 0; i < 999; ++i) last = step();
  AllocatorStats end = allocator_stats();
  CHECK(end.bytes_in_use == warm.bytes_in_use);
  CHECK(last < first);  // it did train
#ifndef QKV_NO_ALLOC_CACHE
  CHECK(end.misses == warm.misses);
  CHECK(end.hits > warm.hits);
#endif
}

TEST_CASE("allocator: blocks of sizes that stop being asked for are given back once they outgrow the tensors in use") {
  empty_cache();
  // 1 MiB to 12 MiB, each freed at once: 78 MiB of distinct size classes, more than the 64 MiB of slack.
  int64_t most_cached = 0;
  for (int64_t mib = 1; mib <= 12; ++mib) {
    { Tensor t = Tensor::empty({mib << 18}); }  // mib MiB of floats
    most_cached = std::max(most_cached, allocator_stats().bytes_cached);
  }
  // A miss flushes when the cache exceeds max(64 MiB, in use); the block just freed comes back on top.
  CHECK(most_cached <= (int64_t{64} << 20) + (int64_t{12} << 20) + (int64_t{2} << 20));
#ifndef QKV_NO_ALLOC_CACHE
  CHECK(most_cached >= (int64_t{60} << 20));                    // it did cache until the bound
  CHECK(allocator_stats().bytes_cached < (int64_t{40} << 20));  // and flushed, keeping only what came after
#endif
  empty_cache();
  CHECK(allocator_stats().bytes_cached == 0);
}
