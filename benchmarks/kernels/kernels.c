/* The benchmark kernels of bench_llvm.py in C: the same algorithms as kernels.clef, loop for loop.
 * Built with clang -O3 -march=native -shared -fPIC; called through ctypes.  Arrays are C-contiguous
 * doubles (float for nappy); results go to caller-allocated buffers, scalars are returned. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void process(const double *frame, double *out, long n) {
    for (long i = 0; i < n; i++) {
        double c = 2.0 * frame[i] - 0.5;
        double s = c * c;
        out[i] = s / (1.0 + fabs(s));
    }
}

void branchy(const double *frame, double *out, long n) {
    for (long i = 0; i < n; i++) {
        double scored = frame[i] / 2.0;
        out[i] = scored > 0.75 ? scored + 0.125 : scored;
    }
}

double dataset(const double *data, long n) {
    double total = 0.0;
    int first = 1;
    for (long i = 0; i < n; i++) {
        double x = data[i] * 0.5;
        if (x > 0.25) {
            total = first ? x : total + x;
            first = 0;
        }
    }
    return total;
}

void matmul(const double *a, const double *b, double *c, long n, long k, long m) {
    for (long i = 0; i < n; i++)
        for (long j = 0; j < m; j++) {
            double acc = 0.0;
            for (long p = 0; p < k; p++) acc += a[i * k + p] * b[p * m + j];
            c[i * m + j] = acc;
        }
}

static int64_t hash64(int64_t x) {
    int64_t a = (int64_t)((uint64_t)(x ^ (x >> 33)) * 0x62A9D9ED799705F5ULL);
    return a ^ (a >> 28);
}

double monte_carlo(double spot, int scenarios) {
    double *values = malloc(sizeof(double) * (size_t)(scenarios > 0 ? scenarios : 1));
    for (int i = 0; i < scenarios; i++) {
        double price = spot;
        for (int step = 0; step <= 251; step++) {
            int64_t seed = (int64_t)i;
            double u = (double)(hash64((int64_t)((uint64_t)seed * 1000003ULL + (uint64_t)step)) & 0xFFFFFF) / 16777216.0;
            price = price * (1.0 + 0.02 * (u - 0.5));
        }
        values[i] = price;
    }
    double total = 0.0;
    for (int i = 0; i < scenarios; i++) total += values[i];
    free(values);
    return total / (double)scenarios;
}

static double mean(const double *w, long n) {
    double s = 0.0;
    for (long i = 0; i < n; i++) s += w[i];
    return s / (double)n;
}

void timeseries(const double *data, long n, double *variances, unsigned char *flags) {
    for (long i = 0; i + 100 <= n; i++) {
        const double *w = data + i;
        double mu = mean(w, 100);
        double s = 0.0;
        for (long j = 0; j < 100; j++) s += (w[j] - mu) * (w[j] - mu);
        double v = s / 100.0;
        variances[i] = v;
        flags[i] = fabs(w[99] - mean(w, 100)) > 3.0 * sqrt(v);
    }
}

float nappy(int n) {
    float *data = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    float *out = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) data[i] = (float)i;
    for (int i = 0; i < n; i++) out[i] = data[i] * 3.0f + 1.0f;
    float total = 0.0f;
    for (int i = 0; i < n; i++) total += out[i];
    free(data);
    free(out);
    return total;
}

void jacobi(const double *a, double *b, long n, int steps) {
    double *c = malloc(sizeof(double) * (size_t)n);
    memcpy(b, a, sizeof(double) * (size_t)n);
    memcpy(c, a, sizeof(double) * (size_t)n);
    for (int t = 1; t <= steps; t++) {
        for (long i = 1; i <= n - 2; i++) c[i] = 0.33333 * (b[i - 1] + b[i] + b[i + 1]);
        for (long i = 1; i <= n - 2; i++) b[i] = 0.33333 * (c[i - 1] + c[i] + c[i + 1]);
    }
    free(c);
}

void gemm(double alpha, double beta, const double *a, const double *b, const double *c, double *out,
          long n, long k, long m) {
    for (long i = 0; i < n; i++)
        for (long j = 0; j < m; j++) {
            double acc = 0.0;
            for (long p = 0; p < k; p++) acc += a[i * k + p] * b[p * m + j];
            out[i * m + j] = alpha * acc + beta * c[i * m + j];
        }
}

void stencil(const double *g, double *out, long rows, long cols) {
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++) {
            long at = i * cols + j;
            if (i == 0 || j == 0 || i == rows - 1 || j == cols - 1) out[at] = g[at];
            else out[at] = 0.2 * (g[at] + g[at - cols] + g[at + cols] + g[at - 1] + g[at + 1]);
        }
}

double chain(const double *xs, long n) {
    double total = 0.0;
    for (long i = 0; i < n; i++) {
        double x = xs[i] * 2.0 + 1.0;
        x = x * x;
        total += x - 3.0;
    }
    return total;
}

void heavy(const double *xs, double *out, long n) {
    for (long i = 0; i < n; i++) out[i] = sin(xs[i]) * exp(0.001 * xs[i]) + sqrt(fabs(xs[i]));
}

/* process.clef's externs as native symbols, for the extern call-cost rows. */
double calibrate(double volts) { return 2.0 * volts - 0.5; }
double extractScore(double x) { return x * x; }
double normalize(double x) { return x / (1.0 + fabs(x)); }
