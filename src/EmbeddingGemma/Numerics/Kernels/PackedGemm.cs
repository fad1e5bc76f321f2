using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>
/// The packed outer-product GEMM of <see cref="KernelSet.GemmPacked"/> for the vector variants (BLIS/GotoBLAS order):
/// for each <see cref="Nc"/>-column block and <see cref="Kc"/>-deep slice of k, B is packed into panels of
/// <see cref="Nr"/> columns ([kc][Nr], zero-padded), then for each <see cref="Mc"/>-row block A into panels of
/// <see cref="Mr"/> rows ([kc][Mr], zero-padded), and a register tile of 24 accumulators runs over each pair of
/// panels: with 512-bit vectors 12 rows × 2 vectors (per k step two vector loads of B, 12 broadcasts of A, 24 FMAs),
/// else 6 rows × 4 vectors (4 loads, 6 broadcasts). The accumulators start from C
/// (or zero for the first slice without <c>accumulate</c>) and go back to C after each slice, so every output is one
/// FMA chain in k order, the same as the scalar reference whatever the blocking, the tile position or the caller's
/// split of C. Pack buffers are per thread and reused (A: <see cref="Mc"/> × <see cref="Kc"/>; B: up to
/// <see cref="Kc"/> × <see cref="Nc"/>, sized by the widest block seen).
/// </summary>
internal static class PackedGemm<TOps, TVec>
    where TOps : struct, ISimd<TVec>
    where TVec : struct
{
    internal const int Kc = 256;
    internal const int Mc = 192;
    internal const int Nc = 2048;

    /// <summary>Rows of the register tile: 12 with 512-bit vectors (12 × 2 vectors), else 6 (6 × 4 vectors).</summary>
    internal static int Mr => W >= 16 ? 12 : 6;

    /// <summary>Columns of the register tile: 2 vectors of 16 with 512 bits, else 4 vectors.</summary>
    internal static int Nr => W >= 16 ? 2 * W : 4 * W;

    [ThreadStatic] private static float[]? t_packA;
    [ThreadStatic] private static float[]? t_packB;

    private static int W => TOps.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int bRowStride, int bColStride,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate)
    {
        int mr = Mr, nr = Nr;
        var pa = t_packA ??= new float[Mc * Kc];
        // B's buffer grows to the widest block seen on this thread (at most Kc × Nc, 2 MiB)
        var bNeed = Kc * Math.Min(Nc, (n + nr - 1) / nr * nr);
        if (t_packB is null || t_packB.Length < bNeed)
        {
            t_packB = new float[bNeed];
        }
        var pb = t_packB;
        ref var ar = ref MemoryMarshal.GetReference(a);
        ref var br = ref MemoryMarshal.GetReference(b);
        ref var cr = ref MemoryMarshal.GetReference(c);
        ref var par = ref MemoryMarshal.GetArrayDataReference(pa);
        ref var pbr = ref MemoryMarshal.GetArrayDataReference(pb);
        Span<float> edge = stackalloc float[12 * 32];
        ref var er = ref MemoryMarshal.GetReference(edge);
        for (var jc = 0; jc < n; jc += Nc)
        {
            var nc = Math.Min(Nc, n - jc);
            for (var pc = 0; pc < k; pc += Kc)
            {
                var kc = Math.Min(Kc, k - pc);
                var load = accumulate || pc > 0;
                PackB(ref Unsafe.Add(ref br, (nint)pc * bRowStride + (nint)jc * bColStride), bRowStride, bColStride, kc, nc, ref pbr);
                for (var ic = 0; ic < m; ic += Mc)
                {
                    var mc = Math.Min(Mc, m - ic);
                    PackA(ref Unsafe.Add(ref ar, (nint)ic * aRowStride + (nint)pc * aColStride), aRowStride, aColStride, mc, kc, ref par);
                    for (var jr = 0; jr < nc; jr += nr)
                    {
                        var nn = Math.Min(nr, nc - jr);
                        ref var bp = ref Unsafe.Add(ref pbr, (nint)jr * kc);
                        for (var ir = 0; ir < mc; ir += mr)
                        {
                            var mm = Math.Min(mr, mc - ir);
                            ref var ap = ref Unsafe.Add(ref par, (nint)ir * kc);
                            ref var ct = ref Unsafe.Add(ref cr, (nint)(ic + ir) * ldc + jc + jr);
                            if (mm == mr && nn == nr)
                            {
                                Micro(ref ap, ref bp, ref ct, ldc, kc, load);
                                continue;
                            }
                            // Edge tile: the same register tile on a copy of the valid part of C.
                            if (load)
                            {
                                for (var r = 0; r < mm; r++)
                                {
                                    MemoryMarshal.CreateSpan(ref Unsafe.Add(ref ct, (nint)r * ldc), nn).CopyTo(edge.Slice(r * nr, nn));
                                }
                            }
                            Micro(ref ap, ref bp, ref er, nr, kc, load);
                            for (var r = 0; r < mm; r++)
                            {
                                edge.Slice(r * nr, nn).CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref ct, (nint)r * ldc), nn));
                            }
                        }
                    }
                }
            }
        }
    }

    // B[t, j] = b[t·rs + j·cs] for t < kc, j < nc into panels of Nr columns: pb[(j/Nr)·kc·Nr + t·Nr + j%Nr], zero-padded.
    private static void PackB(ref float b, int rs, int cs, int kc, int nc, ref float pb) => PackPanels(ref b, cs, rs, nc, kc, Nr, ref pb);

    // A[i, t] = a[i·rs + t·cs] for i < mc, t < kc into panels of Mr rows: pa[(i/Mr)·kc·Mr + t·Mr + i%Mr], zero-padded.
    private static void PackA(ref float a, int rs, int cs, int mc, int kc, ref float pa) => PackPanels(ref a, rs, cs, mc, kc, Mr, ref pa);

    // X[l, t] = src[l·laneStride + t·kStride] for l < lanes, t < kc into panels of `width` lanes:
    // dst[(l/width)·kc·width + t·width + l%width], the last panel zero-padded.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanels(ref float src, int laneStride, int kStride, int lanes, int kc, int width, ref float dst)
    {
        for (var l0 = 0; l0 < lanes; l0 += width)
        {
            var count = Math.Min(width, lanes - l0);
            ref var panel = ref Unsafe.Add(ref dst, (nint)l0 * kc);
            ref var from = ref Unsafe.Add(ref src, (nint)l0 * laneStride);
            if (laneStride == 1 && count == width)
            {
                // the panel's lanes are contiguous in the source: one copy per k step
                for (var t = 0; t < kc; t++)
                {
                    MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref from, (nint)t * kStride), width)
                        .CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref panel, (nint)t * width), width));
                }
                continue;
            }
            for (var l = 0; l < width; l++)
            {
                if (l < count)
                {
                    ref var s = ref Unsafe.Add(ref from, (nint)l * laneStride);
                    for (var t = 0; t < kc; t++)
                    {
                        Unsafe.Add(ref panel, (nint)t * width + l) = Unsafe.Add(ref s, (nint)t * kStride);
                    }
                }
                else
                {
                    for (var t = 0; t < kc; t++)
                    {
                        Unsafe.Add(ref panel, (nint)t * width + l) = 0f;
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Micro(ref float pa, ref float pb, ref float c, int ldc, int kc, bool load)
    {
        if (W >= 16)
        {
            Micro12x2(ref pa, ref pb, ref c, ldc, kc, load);
        }
        else
        {
            Micro6x4(ref pa, ref pb, ref c, ldc, kc, load);
        }
    }

    // C[0..6, 0..4W] (+)= Σ_t pa[t·6 + r]·pb[t·4W + j], one FMA per output per t, in t order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro6x4(ref float pa, ref float pb, ref float c, int ldc, int kc, bool load)
    {
        var w = (nuint)W;
        nint l = ldc;
        TVec c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
        ref var r1 = ref Unsafe.Add(ref c, l);
        ref var r2 = ref Unsafe.Add(ref c, 2 * l);
        ref var r3 = ref Unsafe.Add(ref c, 3 * l);
        ref var r4 = ref Unsafe.Add(ref c, 4 * l);
        ref var r5 = ref Unsafe.Add(ref c, 5 * l);
        if (load)
        {
            c00 = TOps.Load(in c, 0); c01 = TOps.Load(in c, w); c02 = TOps.Load(in c, 2 * w); c03 = TOps.Load(in c, 3 * w);
            c10 = TOps.Load(in r1, 0); c11 = TOps.Load(in r1, w); c12 = TOps.Load(in r1, 2 * w); c13 = TOps.Load(in r1, 3 * w);
            c20 = TOps.Load(in r2, 0); c21 = TOps.Load(in r2, w); c22 = TOps.Load(in r2, 2 * w); c23 = TOps.Load(in r2, 3 * w);
            c30 = TOps.Load(in r3, 0); c31 = TOps.Load(in r3, w); c32 = TOps.Load(in r3, 2 * w); c33 = TOps.Load(in r3, 3 * w);
            c40 = TOps.Load(in r4, 0); c41 = TOps.Load(in r4, w); c42 = TOps.Load(in r4, 2 * w); c43 = TOps.Load(in r4, 3 * w);
            c50 = TOps.Load(in r5, 0); c51 = TOps.Load(in r5, w); c52 = TOps.Load(in r5, 2 * w); c53 = TOps.Load(in r5, 3 * w);
        }
        else
        {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = TOps.Zero;
            c30 = c31 = c32 = c33 = c40 = c41 = c42 = c43 = c50 = c51 = c52 = c53 = TOps.Zero;
        }
        for (var t = 0; t < kc; t++)
        {
            var b0 = TOps.Load(in pb, 0);
            var b1 = TOps.Load(in pb, w);
            var b2 = TOps.Load(in pb, 2 * w);
            var b3 = TOps.Load(in pb, 3 * w);
            var x = TOps.Create(pa);
            c00 = TOps.Fma(x, b0, c00); c01 = TOps.Fma(x, b1, c01); c02 = TOps.Fma(x, b2, c02); c03 = TOps.Fma(x, b3, c03);
            x = TOps.Create(Unsafe.Add(ref pa, 1));
            c10 = TOps.Fma(x, b0, c10); c11 = TOps.Fma(x, b1, c11); c12 = TOps.Fma(x, b2, c12); c13 = TOps.Fma(x, b3, c13);
            x = TOps.Create(Unsafe.Add(ref pa, 2));
            c20 = TOps.Fma(x, b0, c20); c21 = TOps.Fma(x, b1, c21); c22 = TOps.Fma(x, b2, c22); c23 = TOps.Fma(x, b3, c23);
            x = TOps.Create(Unsafe.Add(ref pa, 3));
            c30 = TOps.Fma(x, b0, c30); c31 = TOps.Fma(x, b1, c31); c32 = TOps.Fma(x, b2, c32); c33 = TOps.Fma(x, b3, c33);
            x = TOps.Create(Unsafe.Add(ref pa, 4));
            c40 = TOps.Fma(x, b0, c40); c41 = TOps.Fma(x, b1, c41); c42 = TOps.Fma(x, b2, c42); c43 = TOps.Fma(x, b3, c43);
            x = TOps.Create(Unsafe.Add(ref pa, 5));
            c50 = TOps.Fma(x, b0, c50); c51 = TOps.Fma(x, b1, c51); c52 = TOps.Fma(x, b2, c52); c53 = TOps.Fma(x, b3, c53);
            pa = ref Unsafe.Add(ref pa, 6);
            pb = ref Unsafe.Add(ref pb, 4 * (int)w);
        }
        TOps.Store(c00, ref c, 0); TOps.Store(c01, ref c, w); TOps.Store(c02, ref c, 2 * w); TOps.Store(c03, ref c, 3 * w);
        TOps.Store(c10, ref r1, 0); TOps.Store(c11, ref r1, w); TOps.Store(c12, ref r1, 2 * w); TOps.Store(c13, ref r1, 3 * w);
        TOps.Store(c20, ref r2, 0); TOps.Store(c21, ref r2, w); TOps.Store(c22, ref r2, 2 * w); TOps.Store(c23, ref r2, 3 * w);
        TOps.Store(c30, ref r3, 0); TOps.Store(c31, ref r3, w); TOps.Store(c32, ref r3, 2 * w); TOps.Store(c33, ref r3, 3 * w);
        TOps.Store(c40, ref r4, 0); TOps.Store(c41, ref r4, w); TOps.Store(c42, ref r4, 2 * w); TOps.Store(c43, ref r4, 3 * w);
        TOps.Store(c50, ref r5, 0); TOps.Store(c51, ref r5, w); TOps.Store(c52, ref r5, 2 * w); TOps.Store(c53, ref r5, 3 * w);
    }

    // C[0..12, 0..2W] (+)= Σ_t pa[t·12 + r]·pb[t·2W + j], one FMA per output per t, in t order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro12x2(ref float pa, ref float pb, ref float c, int ldc, int kc, bool load)
    {
        var w = (nuint)W;
        nint l = ldc;
        TVec c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71, c80, c81, c90, c91, ca0, ca1, cb0, cb1;
        if (load)
        {
            c00 = TOps.Load(in c, 0); c01 = TOps.Load(in c, w);
            c10 = TOps.Load(in Unsafe.Add(ref c, l), 0); c11 = TOps.Load(in Unsafe.Add(ref c, l), w);
            c20 = TOps.Load(in Unsafe.Add(ref c, 2 * l), 0); c21 = TOps.Load(in Unsafe.Add(ref c, 2 * l), w);
            c30 = TOps.Load(in Unsafe.Add(ref c, 3 * l), 0); c31 = TOps.Load(in Unsafe.Add(ref c, 3 * l), w);
            c40 = TOps.Load(in Unsafe.Add(ref c, 4 * l), 0); c41 = TOps.Load(in Unsafe.Add(ref c, 4 * l), w);
            c50 = TOps.Load(in Unsafe.Add(ref c, 5 * l), 0); c51 = TOps.Load(in Unsafe.Add(ref c, 5 * l), w);
            c60 = TOps.Load(in Unsafe.Add(ref c, 6 * l), 0); c61 = TOps.Load(in Unsafe.Add(ref c, 6 * l), w);
            c70 = TOps.Load(in Unsafe.Add(ref c, 7 * l), 0); c71 = TOps.Load(in Unsafe.Add(ref c, 7 * l), w);
            c80 = TOps.Load(in Unsafe.Add(ref c, 8 * l), 0); c81 = TOps.Load(in Unsafe.Add(ref c, 8 * l), w);
            c90 = TOps.Load(in Unsafe.Add(ref c, 9 * l), 0); c91 = TOps.Load(in Unsafe.Add(ref c, 9 * l), w);
            ca0 = TOps.Load(in Unsafe.Add(ref c, 10 * l), 0); ca1 = TOps.Load(in Unsafe.Add(ref c, 10 * l), w);
            cb0 = TOps.Load(in Unsafe.Add(ref c, 11 * l), 0); cb1 = TOps.Load(in Unsafe.Add(ref c, 11 * l), w);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = TOps.Zero;
            c60 = c61 = c70 = c71 = c80 = c81 = c90 = c91 = ca0 = ca1 = cb0 = cb1 = TOps.Zero;
        }
        for (var t = 0; t < kc; t++)
        {
            var b0 = TOps.Load(in pb, 0);
            var b1 = TOps.Load(in pb, w);
            var x = TOps.Create(pa);
            c00 = TOps.Fma(x, b0, c00); c01 = TOps.Fma(x, b1, c01);
            x = TOps.Create(Unsafe.Add(ref pa, 1));
            c10 = TOps.Fma(x, b0, c10); c11 = TOps.Fma(x, b1, c11);
            x = TOps.Create(Unsafe.Add(ref pa, 2));
            c20 = TOps.Fma(x, b0, c20); c21 = TOps.Fma(x, b1, c21);
            x = TOps.Create(Unsafe.Add(ref pa, 3));
            c30 = TOps.Fma(x, b0, c30); c31 = TOps.Fma(x, b1, c31);
            x = TOps.Create(Unsafe.Add(ref pa, 4));
            c40 = TOps.Fma(x, b0, c40); c41 = TOps.Fma(x, b1, c41);
            x = TOps.Create(Unsafe.Add(ref pa, 5));
            c50 = TOps.Fma(x, b0, c50); c51 = TOps.Fma(x, b1, c51);
            x = TOps.Create(Unsafe.Add(ref pa, 6));
            c60 = TOps.Fma(x, b0, c60); c61 = TOps.Fma(x, b1, c61);
            x = TOps.Create(Unsafe.Add(ref pa, 7));
            c70 = TOps.Fma(x, b0, c70); c71 = TOps.Fma(x, b1, c71);
            x = TOps.Create(Unsafe.Add(ref pa, 8));
            c80 = TOps.Fma(x, b0, c80); c81 = TOps.Fma(x, b1, c81);
            x = TOps.Create(Unsafe.Add(ref pa, 9));
            c90 = TOps.Fma(x, b0, c90); c91 = TOps.Fma(x, b1, c91);
            x = TOps.Create(Unsafe.Add(ref pa, 10));
            ca0 = TOps.Fma(x, b0, ca0); ca1 = TOps.Fma(x, b1, ca1);
            x = TOps.Create(Unsafe.Add(ref pa, 11));
            cb0 = TOps.Fma(x, b0, cb0); cb1 = TOps.Fma(x, b1, cb1);
            pa = ref Unsafe.Add(ref pa, 12);
            pb = ref Unsafe.Add(ref pb, 2 * (int)w);
        }
        TOps.Store(c00, ref c, 0); TOps.Store(c01, ref c, w);
        TOps.Store(c10, ref Unsafe.Add(ref c, l), 0); TOps.Store(c11, ref Unsafe.Add(ref c, l), w);
        TOps.Store(c20, ref Unsafe.Add(ref c, 2 * l), 0); TOps.Store(c21, ref Unsafe.Add(ref c, 2 * l), w);
        TOps.Store(c30, ref Unsafe.Add(ref c, 3 * l), 0); TOps.Store(c31, ref Unsafe.Add(ref c, 3 * l), w);
        TOps.Store(c40, ref Unsafe.Add(ref c, 4 * l), 0); TOps.Store(c41, ref Unsafe.Add(ref c, 4 * l), w);
        TOps.Store(c50, ref Unsafe.Add(ref c, 5 * l), 0); TOps.Store(c51, ref Unsafe.Add(ref c, 5 * l), w);
        TOps.Store(c60, ref Unsafe.Add(ref c, 6 * l), 0); TOps.Store(c61, ref Unsafe.Add(ref c, 6 * l), w);
        TOps.Store(c70, ref Unsafe.Add(ref c, 7 * l), 0); TOps.Store(c71, ref Unsafe.Add(ref c, 7 * l), w);
        TOps.Store(c80, ref Unsafe.Add(ref c, 8 * l), 0); TOps.Store(c81, ref Unsafe.Add(ref c, 8 * l), w);
        TOps.Store(c90, ref Unsafe.Add(ref c, 9 * l), 0); TOps.Store(c91, ref Unsafe.Add(ref c, 9 * l), w);
        TOps.Store(ca0, ref Unsafe.Add(ref c, 10 * l), 0); TOps.Store(ca1, ref Unsafe.Add(ref c, 10 * l), w);
        TOps.Store(cb0, ref Unsafe.Add(ref c, 11 * l), 0); TOps.Store(cb1, ref Unsafe.Add(ref c, 11 * l), w);
    }
}
