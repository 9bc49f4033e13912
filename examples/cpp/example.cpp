// example.cpp - fpq from C++17: formats, quantize / dequantize, and an MXFP4 tensor.
//
//   make
//   g++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude examples/cpp/example.cpp
//       lib/libfpq.a -lm -fopenmp          (one line; clang++ too)
//
// -fopenmp only when the library was built with OpenMP, as `make` does where the compiler has
// it. Prints what it does and returns non-zero on any failure.
#include "fpq.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Every fpq call returns FPQ_OK or a negative status: turn the latter into an exception.
void check(int status, const char *what)
{
    if (status != FPQ_OK)
        throw std::runtime_error(std::string(what) + ": " + fpq_status_string(status));
}

int failures = 0;

void expect(bool ok, const std::string &what)
{
    if (!ok) {
        std::printf("FAILED: %s\n", what.c_str());
        ++failures;
    }
}

fpq_format format(const char *name)
{
    fpq_format fmt{};
    check(fpq_format_from_name(name, &fmt), name);
    return fmt;
}

std::string describe(const fpq_format &fmt)
{
    std::array<char, 64> buf{};
    check(fpq_format_describe(&fmt, buf.data(), buf.size()), "fpq_format_describe");
    return buf.data();
}

void formats()
{
    std::printf("fpq %s, backend %s\n", fpq_version_string(), fpq_backend_name());
    for (const char *name : {"e2m1", "e3m2", "e4m3fn", "e5m2", "e8m0"}) {
        const fpq_format fmt = format(name);
        fpq_format_limits lim{};
        check(fpq_format_limits_get(&fmt, &lim), "fpq_format_limits_get");
        std::printf("  %-6s = %-16s %d bits, %3d values, max %g\n", name, describe(fmt).c_str(),
                    lim.bits, lim.num_values, static_cast<double>(lim.max_finite));
    }
    fpq_format e3m2{};
    check(fpq_format_make(3, 2, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &e3m2), "make e3m2");
    expect(describe(e3m2) == "float6_e3m2fn", "fpq_format_make(3, 2) is float6_e3m2fn");

    const fpq_format e2m1 = format("e2m1");
    std::vector<float> values(16);
    std::size_t count = 0;
    check(fpq_format_values(&e2m1, values.data(), values.size(), &count), "fpq_format_values");
    values.resize(count);
    expect(count == 15 && values.front() == -6.0f && values.back() == 6.0f,
           "e2m1 has 15 values from -6 to 6");
}

void kernels()
{
    const fpq_format fmt = format("e2m1");
    const std::vector<float> w = {0.31f, -1.7f, 0.02f, 2.9f, -0.44f, 5.5f};
    // The values e2m1 holds at scale 5.5 / 6, nearest to w (ties to even).
    const std::vector<float> grid = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

    float scale = 0.0f;
    check(fpq_scale_from_maxval(&fmt, 5.5f, &scale), "fpq_scale_from_maxval");
    std::vector<std::uint8_t> codes(fpq_packed_size(&fmt, w.size(), 0));
    std::vector<float> back(w.size()), fake(w.size());
    check(fpq_quantize(&fmt, w.data(), w.size(), scale, 0, codes.data()), "fpq_quantize");
    check(fpq_dequantize(&fmt, codes.data(), w.size(), scale, 0, back.data()), "fpq_dequantize");
    check(fpq_fake_quantize(&fmt, w.data(), w.size(), scale, 0, fake.data()),
          "fpq_fake_quantize");

    std::printf("e2m1 at scale %g (%zu bytes for %zu values):\n", static_cast<double>(scale),
                codes.size(), w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
        const unsigned code = (codes[i / 2] >> (4 * (i % 2))) & 0xFu;
        std::printf("  %6g -> code %2u -> %g\n", static_cast<double>(w[i]), code,
                    static_cast<double>(back[i]));
        const float magnitude = grid[code & 7u] * scale;
        expect(back[i] == ((code & 8u) ? -magnitude : magnitude), "code " + std::to_string(i));
        expect(back[i] == fake[i], "dequantize(quantize) == fake_quantize at " +
                                       std::to_string(i));
        // the nearest grid value: no other is closer
        for (float g : grid)
            expect(std::fabs(w[i] - back[i]) <= std::fabs(std::fabs(w[i]) - g * scale),
                   "nearest value at " + std::to_string(i));
    }
    expect(back[5] == 5.5f, "the clipping maximum is exact");

    // Errors come back as statuses and write nothing.
    std::vector<std::uint8_t> untouched(codes.size(), 0xAA);
    const int status = fpq_quantize(&fmt, w.data(), w.size(), 0.0f, 0, untouched.data());
    std::printf("scale 0: %s\n", fpq_status_string(status));
    expect(status == FPQ_ERR_SCALE, "scale 0 is FPQ_ERR_SCALE");
    expect(untouched == std::vector<std::uint8_t>(codes.size(), 0xAA), "nothing written");
}

void tensor()
{
    // MXFP4: a 2 x 64 tensor, e2m1 elements in blocks of 32 with one E8M0 scale each.
    const fpq_format fmt = format("e2m1");
    fpq_tensor t{};
    t.struct_size = sizeof t;
    t.rows = 2;
    t.cols = 64;
    t.row_stride = 64;
    t.elem_type = FPQ_FLOAT32;
    t.granularity = FPQ_PER_BLOCK;
    t.block_size = 32;

    std::vector<float> x(t.rows * t.cols);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = std::sin(0.37f * static_cast<float>(i)) * (i < 32 ? 1.0f : i < 64 ? 20.0f : 0.01f);

    std::vector<std::uint8_t> scale_codes(fpq_tensor_num_scales(&t));
    fpq_scales s{};
    s.struct_size = sizeof s;
    s.encoding = FPQ_SCALE_E8M0;
    s.data = scale_codes.data();
    s.count = scale_codes.size();
    std::vector<std::uint8_t> codes(fpq_tensor_code_bytes(&fmt, &t, 0));
    std::vector<float> y(x.size());
    check(fpq_tensor_quantize_auto(&fmt, &t, x.data(), 1.0f, &s, 0, codes.data(), codes.size()),
          "fpq_tensor_quantize_auto");
    check(fpq_tensor_dequantize(&fmt, &t, codes.data(), codes.size(), &s, 0, y.data()),
          "fpq_tensor_dequantize");

    double err = 0.0, sig = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
        sig += double(x[i]) * x[i];
    }
    std::printf("MXFP4 2x64: %zu code bytes, block scales 2^", codes.size());
    for (std::uint8_t c : scale_codes)
        std::printf("%d ", int(c) - 127);
    std::printf("SQNR %.1f dB\n", 10.0 * std::log10(sig / err));
    // OCP MX: a block's scale is 2^(floor(log2(amax)) - 2), 2 the exponent of e2m1's max 6.
    for (std::size_t b = 0; b < scale_codes.size(); ++b) {
        float amax = 0.0f;
        for (std::size_t i = 32 * b; i < 32 * (b + 1); ++i)
            amax = std::fmax(amax, std::fabs(x[i]));
        int e = 0;
        std::frexp(amax, &e); // amax = f * 2^e, 0.5 <= f < 1: floor(log2(amax)) = e - 1
        expect(scale_codes[b] == 127 + (e - 1) - 2, "MX scale of block " + std::to_string(b));
    }
    expect(10.0 * std::log10(sig / err) > 15.0, "MXFP4 SQNR above 15 dB");
}

} // namespace

int main()
{
    try {
        check(fpq_check_version(FPQ_VERSION_NUMBER), "fpq_check_version");
        formats();
        kernels();
        tensor();
    } catch (const std::exception &e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
    if (failures) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}
