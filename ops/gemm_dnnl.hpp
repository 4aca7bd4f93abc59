// float32 matrix products through oneDNN's matmul primitive (internal to the kernels of
// ops/linalg.cpp). Compiled in when CMake finds oneDNN (libdnnl-dev, DAGRAD_WITH_DNNL); without
// it dnnl_sgemm always declines and the caller uses OpenBLAS.
//
// Why: on the chapter MLP's products of 32 and 256 rows (bench/README.md, onednn_matmul) oneDNN
// 2.6 was 1.1-1.5x faster than OpenBLAS 0.3.21 on one thread, timed alone; on single rows
// (gemv) it was slower. ops/linalg.cpp says which products it takes.
#pragma once

namespace dagrad::kernels {

// Whether this build has oneDNN (DAGRAD_ONEDNN=0 in the environment still turns it off).
bool dnnl_available();

// C (m x n, row-major, leading dimension ldc) = op(A) op(B), A and B row-major with leading
// dimensions lda and ldb, on `threads` threads. Returns false (and touches nothing) without
// oneDNN. Primitives are made once per shape and thread and kept (thread-local).
bool dnnl_sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
                int ldb, float* c, int ldc, int threads);

}  // namespace dagrad::kernels
