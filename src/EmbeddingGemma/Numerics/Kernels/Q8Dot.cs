using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>
/// Int8 block dot products with AVX2, as llama.cpp's ggml_vec_dot_q8_0_q8_0: |w| · sign(a, w) with
/// <c>vpmaddubsw</c>, pairs to int32 with <c>vpmaddwd</c>, to float, then one FMA per block with the product of the
/// two block scales into an 8-lane float accumulator. A tile of 4 activation rows × 2 weight rows shares the loads;
/// every output goes through the same operations as the 1 × 1 path, so tiling never changes a result.
/// </summary>
internal static class Q8Avx2
{
    public static void Gemm(ReadOnlySpan<sbyte> aq, ReadOnlySpan<float> ad, ReadOnlySpan<sbyte> wq, ReadOnlySpan<float> wd, Span<float> c, int ldc, int m, int n, int k)
    {
        ref var ar = ref MemoryMarshal.GetReference(aq);
        ref var adr = ref MemoryMarshal.GetReference(ad);
        ref var wr = ref MemoryMarshal.GetReference(wq);
        ref var wdr = ref MemoryMarshal.GetReference(wd);
        ref var cr = ref MemoryMarshal.GetReference(c);
        var nb = k / 32;
        var i = 0;
        for (; i + 4 <= m; i += 4)
        {
            var j = 0;
            for (; j + 2 <= n; j += 2)
            {
                Tile4x2(ref Unsafe.Add(ref ar, (nint)i * k), ref Unsafe.Add(ref adr, (nint)i * nb), ref Unsafe.Add(ref wr, (nint)j * k), ref Unsafe.Add(ref wdr, (nint)j * nb), ref Unsafe.Add(ref cr, (nint)i * ldc + j), ldc, k);
            }
            for (; j < n; j++)
            {
                for (var ii = i; ii < i + 4; ii++)
                {
                    Unsafe.Add(ref cr, (nint)ii * ldc + j) = Dot1(ref Unsafe.Add(ref ar, (nint)ii * k), ref Unsafe.Add(ref adr, (nint)ii * nb), ref Unsafe.Add(ref wr, (nint)j * k), ref Unsafe.Add(ref wdr, (nint)j * nb), nb);
                }
            }
        }
        for (; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                Unsafe.Add(ref cr, (nint)i * ldc + j) = Dot1(ref Unsafe.Add(ref ar, (nint)i * k), ref Unsafe.Add(ref adr, (nint)i * nb), ref Unsafe.Add(ref wr, (nint)j * k), ref Unsafe.Add(ref wdr, (nint)j * nb), nb);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block(Vector256<byte> absW, Vector256<sbyte> w, Vector256<sbyte> a)
    {
        var p16 = Avx2.MultiplyAddAdjacent(absW, Avx2.Sign(a, w));
        return Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(p16, Vector256.Create((short)1)));
    }

    private static float Dot1(ref sbyte a, ref float ad, ref sbyte w, ref float wd, int nb)
    {
        var acc = Vector256<float>.Zero;
        for (var b = 0; b < nb; b++)
        {
            var wv = Vector256.LoadUnsafe(ref w, (nuint)(32 * b));
            var absW = Avx2.Abs(wv);
            var av = Vector256.LoadUnsafe(ref a, (nuint)(32 * b));
            acc = Fma.MultiplyAdd(Block(absW, wv, av), Vector256.Create(Unsafe.Add(ref ad, b) * Unsafe.Add(ref wd, b)), acc);
        }
        return Vector256.Sum(acc);
    }

    private static void Tile4x2(ref sbyte a0, ref float ad0, ref sbyte w0, ref float wd0, ref float c0, int ldc, int k)
    {
        var nb = k / 32;
        ref var a1 = ref Unsafe.Add(ref a0, k);
        ref var a2 = ref Unsafe.Add(ref a0, 2 * k);
        ref var a3 = ref Unsafe.Add(ref a0, 3 * k);
        ref var ad1 = ref Unsafe.Add(ref ad0, nb);
        ref var ad2 = ref Unsafe.Add(ref ad0, 2 * nb);
        ref var ad3 = ref Unsafe.Add(ref ad0, 3 * nb);
        ref var w1 = ref Unsafe.Add(ref w0, k);
        ref var wd1 = ref Unsafe.Add(ref wd0, nb);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (var b = 0; b < nb; b++)
        {
            var off = (nuint)(32 * b);
            var v0 = Vector256.LoadUnsafe(ref w0, off);
            var v1 = Vector256.LoadUnsafe(ref w1, off);
            var abs0 = Avx2.Abs(v0);
            var abs1 = Avx2.Abs(v1);
            var s0 = Unsafe.Add(ref wd0, b);
            var s1 = Unsafe.Add(ref wd1, b);
            var x = Vector256.LoadUnsafe(ref a0, off);
            var d = Unsafe.Add(ref ad0, b);
            c00 = Fma.MultiplyAdd(Block(abs0, v0, x), Vector256.Create(d * s0), c00);
            c01 = Fma.MultiplyAdd(Block(abs1, v1, x), Vector256.Create(d * s1), c01);
            x = Vector256.LoadUnsafe(ref a1, off);
            d = Unsafe.Add(ref ad1, b);
            c10 = Fma.MultiplyAdd(Block(abs0, v0, x), Vector256.Create(d * s0), c10);
            c11 = Fma.MultiplyAdd(Block(abs1, v1, x), Vector256.Create(d * s1), c11);
            x = Vector256.LoadUnsafe(ref a2, off);
            d = Unsafe.Add(ref ad2, b);
            c20 = Fma.MultiplyAdd(Block(abs0, v0, x), Vector256.Create(d * s0), c20);
            c21 = Fma.MultiplyAdd(Block(abs1, v1, x), Vector256.Create(d * s1), c21);
            x = Vector256.LoadUnsafe(ref a3, off);
            d = Unsafe.Add(ref ad3, b);
            c30 = Fma.MultiplyAdd(Block(abs0, v0, x), Vector256.Create(d * s0), c30);
            c31 = Fma.MultiplyAdd(Block(abs1, v1, x), Vector256.Create(d * s1), c31);
        }
        c0 = Vector256.Sum(c00);
        Unsafe.Add(ref c0, 1) = Vector256.Sum(c01);
        ref var r1 = ref Unsafe.Add(ref c0, ldc);
        r1 = Vector256.Sum(c10);
        Unsafe.Add(ref r1, 1) = Vector256.Sum(c11);
        ref var r2 = ref Unsafe.Add(ref c0, 2 * ldc);
        r2 = Vector256.Sum(c20);
        Unsafe.Add(ref r2, 1) = Vector256.Sum(c21);
        ref var r3 = ref Unsafe.Add(ref c0, 3 * ldc);
        r3 = Vector256.Sum(c30);
        Unsafe.Add(ref r3, 1) = Vector256.Sum(c31);
    }
}

/// <summary>
/// Portable 128-bit int8 block dot product (ARM64 AdvSimd, or SSE on x64): widen to int16, multiply, widen and add to
/// int32 lanes, then one float multiply-add per block. One output at a time.
/// </summary>
internal static class Q8Vector128
{
    public static void Gemm(ReadOnlySpan<sbyte> aq, ReadOnlySpan<float> ad, ReadOnlySpan<sbyte> wq, ReadOnlySpan<float> wd, Span<float> c, int ldc, int m, int n, int k)
    {
        ref var ar = ref MemoryMarshal.GetReference(aq);
        ref var wr = ref MemoryMarshal.GetReference(wq);
        var nb = k / 32;
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var acc = Vector128<float>.Zero;
                ref var a = ref Unsafe.Add(ref ar, (nint)i * k);
                ref var w = ref Unsafe.Add(ref wr, (nint)j * k);
                for (var b = 0; b < nb; b++)
                {
                    var off = (nuint)(32 * b);
                    var s = Half16(Vector128.LoadUnsafe(ref a, off), Vector128.LoadUnsafe(ref w, off))
                          + Half16(Vector128.LoadUnsafe(ref a, off + 16), Vector128.LoadUnsafe(ref w, off + 16));
                    acc = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(s), Vector128.Create(ad[i * nb + b] * wd[j * nb + b]), acc);
                }
                c[i * ldc + j] = Vector128.Sum(acc);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Half16(Vector128<sbyte> a, Vector128<sbyte> w)
    {
        var plo = Vector128.WidenLower(a) * Vector128.WidenLower(w);
        var phi = Vector128.WidenUpper(a) * Vector128.WidenUpper(w);
        return Vector128.WidenLower(plo) + Vector128.WidenUpper(plo) + Vector128.WidenLower(phi) + Vector128.WidenUpper(phi);
    }
}
