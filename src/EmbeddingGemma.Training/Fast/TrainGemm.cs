using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Training.Fast;

/// <summary>
/// The matrix products of the fp32 training path on the engine's register-tiled GEMM (<see cref="KernelSet.GemmTile"/>,
/// <c>C = A·Bᵀ</c> with both operands row-major), split into output tiles of <see cref="BlockRows"/> × <see cref="BlockCols"/>
/// and run over <c>threads</c> workers. The reduction dimension is cut into blocks of <see cref="KBlock"/> (so a tile's
/// operands stay in cache when k is the token count of a mini-batch) and the partial tiles are added in block order:
/// each output element is computed by the same float operations whatever the thread count, so results are
/// deterministic. Row-major conventions as <see cref="Reference.Linear"/>: <c>Y = X·Wᵀ</c>, W [out, in].
/// </summary>
internal static class TrainGemm
{
    internal const int BlockRows = 64;
    internal const int BlockCols = 48;
    internal const int KBlock = 512;

    [ThreadStatic] private static float[]? t_tile;

    /// <summary>
    /// C[i, j] (+)= Σ_t A[aOff + i·lda + t]·B[bOff + j·ldb + t] for i &lt; m, j &lt; n, t &lt; k
    /// (<paramref name="accumulate"/>: add to C, else overwrite).
    /// </summary>
    public static void Multiply(KernelSet ks, int threads, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
        float[] c, int cOff, int ldc, int m, int n, int k, bool accumulate)
    {
        if (m <= 0 || n <= 0)
        {
            return;
        }
        if (k == 0)
        {
            if (!accumulate)
            {
                for (var i = 0; i < m; i++)
                {
                    Array.Clear(c, cOff + i * ldc, n);
                }
            }
            return;
        }
        int mb = (m + BlockRows - 1) / BlockRows, nb = (n + BlockCols - 1) / BlockCols;
        Workers.Blocks(mb * nb, threads, item =>
        {
            // column panel outer, row block inner: consecutive items share the B panel
            int pj = item / mb, pi = item % mb;
            int i0 = pi * BlockRows, j0 = pj * BlockCols;
            int mm = Math.Min(BlockRows, m - i0), nn = Math.Min(BlockCols, n - j0);
            var cc = c.AsSpan(cOff + i0 * ldc + j0);
            if (!accumulate && k <= KBlock)
            {
                ks.GemmTile(a.AsSpan(aOff + i0 * lda), lda, b.AsSpan(bOff + j0 * ldb), ldb, cc, ldc, mm, nn, k);
                return;
            }
            var tile = t_tile ??= new float[BlockRows * BlockCols];
            for (var t0 = 0; t0 < k; t0 += KBlock)
            {
                var kk = Math.Min(KBlock, k - t0);
                ks.GemmTile(a.AsSpan(aOff + i0 * lda + t0), lda, b.AsSpan(bOff + j0 * ldb + t0), ldb, tile, nn, mm, nn, kk);
                var assign = !accumulate && t0 == 0;
                for (var i = 0; i < mm; i++)
                {
                    var dst = cc.Slice(i * ldc, nn);
                    var src = tile.AsSpan(i * nn, nn);
                    if (assign)
                    {
                        src.CopyTo(dst);
                    }
                    else
                    {
                        ks.Add(dst, src, dst);
                    }
                }
            }
        });
    }

    /// <summary>Y[m, outF] = X[m, inF]·Wᵀ (W [outF, inF]).</summary>
    public static void Forward(KernelSet ks, int threads, float[] x, int m, float[] w, int outF, int inF, float[] y) =>
        Multiply(ks, threads, x, 0, inF, w, 0, inF, y, 0, outF, m, outF, inF, accumulate: false);

    /// <summary>Rows of C per work item of the packed products (the kernel's row block).</summary>
    internal const int PackedBlockRows = 192;

    /// <summary>
    /// C[i, j] (+)= Σ_t A(i, t)·B(t, j) with A(i, t) = a[aOff + i·aRs + t·aCs], B(t, j) = b[bOff + t·bRs + j·bCs] on the
    /// packed kernel (<see cref="KernelSet.GemmPacked"/>) over <c>threads</c> workers: C is cut into blocks of
    /// <see cref="PackedBlockRows"/> rows, and into column blocks (multiples of 32, at least 128 wide) only when the
    /// rows alone give fewer than two blocks per worker, so that each operand is packed about once. Each output is one
    /// FMA chain in k order whatever the split, so results do not depend on the thread count.
    /// </summary>
    public static void MultiplyPacked(KernelSet ks, int threads, float[] a, int aOff, int aRs, int aCs, float[] b, int bOff, int bRs, int bCs,
        float[] c, int cOff, int ldc, int m, int n, int k, bool accumulate)
    {
        if (m <= 0 || n <= 0)
        {
            return;
        }
        var mb = (m + PackedBlockRows - 1) / PackedBlockRows;
        var nb = threads > 1 ? Math.Clamp((2 * threads + mb - 1) / mb, 1, Math.Max(1, n / 128)) : 1;
        var cols = ((n + nb - 1) / nb + 31) / 32 * 32;
        nb = (n + cols - 1) / cols;
        Workers.Blocks(mb * nb, threads, item =>
        {
            int pj = item / mb, pi = item % mb;
            int i0 = pi * PackedBlockRows, j0 = pj * cols;
            int mm = Math.Min(PackedBlockRows, m - i0), nn = Math.Min(cols, n - j0);
            ks.GemmPacked(a.AsSpan(aOff + i0 * aRs), aRs, aCs, b.AsSpan(bOff + j0 * bCs), bRs, bCs,
                c.AsSpan(cOff + i0 * ldc + j0), ldc, mm, nn, k, accumulate);
        });
    }

    /// <summary>dX[m, inF] (+)= dY[m, outF]·W (W [outF, inF] read as stored).</summary>
    public static void BackwardInput(KernelSet ks, int threads, float[] dy, int m, float[] w, int outF, int inF, float[] dx, bool accumulate) =>
        MultiplyPacked(ks, threads, dy, 0, outF, 1, w, 0, inF, 1, dx, 0, inF, m, inF, outF, accumulate);

    /// <summary>dW[outF, inF] += dY[m, outF]ᵀ·X[m, inF] (dY read transposed by the packing).</summary>
    public static void BackwardWeight(KernelSet ks, int threads, float[] dy, float[] x, int m, int outF, int inF, float[] dw) =>
        MultiplyPacked(ks, threads, dy, 0, 1, outF, x, 0, inF, 1, dw, 0, inF, outF, inF, m, accumulate: true);

    /// <summary>dst[c, r] = src[r, c] for a [rows, cols] matrix, in 32 × 32 blocks over threads.</summary>
    public static void Transpose(int threads, float[] src, int rows, int cols, float[] dst)
    {
        const int B = 32;
        int rb = (rows + B - 1) / B, cb = (cols + B - 1) / B;
        Workers.Blocks(rb, threads, bi =>
        {
            var r0 = bi * B;
            var r1 = Math.Min(rows, r0 + B);
            for (var cj = 0; cj < cb; cj++)
            {
                int c0 = cj * B, c1 = Math.Min(cols, c0 + B);
                for (var r = r0; r < r1; r++)
                {
                    var srow = r * cols;
                    for (var c = c0; c < c1; c++)
                    {
                        dst[c * rows + r] = src[srow + c];
                    }
                }
            }
        });
    }
}

/// <summary>A fixed partition of work items over at most <c>threads</c> workers (items are the unit of determinism).</summary>
internal static class Workers
{
    public static void Blocks(int items, int threads, Action<int> body)
    {
        if (items <= 0)
        {
            return;
        }
        if (threads <= 1 || items == 1)
        {
            for (var i = 0; i < items; i++)
            {
                body(i);
            }
            return;
        }
        System.Threading.Tasks.Parallel.For(0, items, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }

    /// <summary>Rows [0, count) in fixed blocks of <paramref name="block"/> rows: body(first, end).</summary>
    public static void Rows(int count, int block, int threads, Action<int, int> body) =>
        Blocks((count + block - 1) / block, threads, b => body(b * block, Math.Min(count, (b + 1) * block)));
}
