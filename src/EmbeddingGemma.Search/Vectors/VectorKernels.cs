using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EmbeddingGemma.Search.Vectors;

/// <summary>
/// Dot products and normalisation for search. Each kernel has a scalar reference (<c>*Scalar</c>) that the SIMD
/// variant is tested against on every length 0..256. Inputs are spans, lengths are checked up front.
/// </summary>
public static class VectorKernels
{
    /// <summary>Sum of x[i]*y[i] in float (plain loop; the reference).</summary>
    public static float DotScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        CheckSameLength(x.Length, y.Length);
        float sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }
        return sum;
    }

    /// <summary>Sum of x[i]*y[i]; Vector256 with four FMA accumulators where the CPU has them, else Vector128, else scalar.</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        CheckSameLength(x.Length, y.Length);
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            return Dot256(x, y);
        }
        if (Vector128.IsHardwareAccelerated && x.Length >= 4)
        {
            return Dot128(x, y);
        }
        return DotScalar(x, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot256(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = x.Length;
        var a0 = Vector256<float>.Zero;
        var a1 = Vector256<float>.Zero;
        var a2 = Vector256<float>.Zero;
        var a3 = Vector256<float>.Zero;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)(i + 8)), Vector256.LoadUnsafe(ref py, (nuint)(i + 8)), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)(i + 16)), Vector256.LoadUnsafe(ref py, (nuint)(i + 16)), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)(i + 24)), Vector256.LoadUnsafe(ref py, (nuint)(i + 24)), a3);
        }
        for (; i <= n - 8; i += 8)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i), a0);
        }
        float sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref px, i) * Unsafe.Add(ref py, i);
        }
        return sum;
    }

    private static float Dot128(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = x.Length;
        var a0 = Vector128<float>.Zero;
        var a1 = Vector128<float>.Zero;
        int i = 0;
        for (; i <= n - 8; i += 8)
        {
            a0 = Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref px, (nuint)i), Vector128.LoadUnsafe(ref py, (nuint)i), a0);
            a1 = Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref px, (nuint)(i + 4)), Vector128.LoadUnsafe(ref py, (nuint)(i + 4)), a1);
        }
        for (; i <= n - 4; i += 4)
        {
            a0 = Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref px, (nuint)i), Vector128.LoadUnsafe(ref py, (nuint)i), a0);
        }
        float sum = Vector128.Sum(a0 + a1);
        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref px, i) * Unsafe.Add(ref py, i);
        }
        return sum;
    }

    /// <summary>Integer dot product of two int8 vectors (reference).</summary>
    public static int DotInt8Scalar(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> y)
    {
        CheckSameLength(x.Length, y.Length);
        int sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }
        return sum;
    }

    /// <summary>Integer dot product of two int8 vectors; AVX2 (widen to int16, multiply-add adjacent pairs) where present.</summary>
    public static int DotInt8(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> y)
    {
        CheckSameLength(x.Length, y.Length);
        if (!Avx2.IsSupported || x.Length < 16)
        {
            return DotInt8Scalar(x, y);
        }
        ref sbyte px = ref MemoryMarshal.GetReference(x);
        ref sbyte py = ref MemoryMarshal.GetReference(y);
        int n = x.Length;
        var acc0 = Vector256<int>.Zero;
        var acc1 = Vector256<int>.Zero;
        int i = 0;
        for (; i <= n - 32; i += 32)
        {
            var vx = Vector256.LoadUnsafe(ref px, (nuint)i);
            var vy = Vector256.LoadUnsafe(ref py, (nuint)i);
            // |x*y| <= 127*128 fits int16; pairs are summed into int32 by vpmaddwd.
            acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(vx.GetLower()), Avx2.ConvertToVector256Int16(vy.GetLower())));
            acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(vx.GetUpper()), Avx2.ConvertToVector256Int16(vy.GetUpper())));
        }
        for (; i <= n - 16; i += 16)
        {
            var vx = Vector128.LoadUnsafe(ref px, (nuint)i);
            var vy = Vector128.LoadUnsafe(ref py, (nuint)i);
            acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(vx), Avx2.ConvertToVector256Int16(vy)));
        }
        int sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref px, i) * Unsafe.Add(ref py, i);
        }
        return sum;
    }

    /// <summary>Scales <paramref name="v"/> to unit L2 norm in place; returns the norm before scaling (0 leaves v unchanged).</summary>
    public static float NormalizeInPlace(Span<float> v)
    {
        double sq = 0;
        for (int i = 0; i < v.Length; i++)
        {
            sq += (double)v[i] * v[i];
        }
        float norm = (float)Math.Sqrt(sq);
        if (norm > 0)
        {
            float inv = 1f / norm;
            for (int i = 0; i < v.Length; i++)
            {
                v[i] *= inv;
            }
        }
        return norm;
    }

    private static void CheckSameLength(int a, int b)
    {
        if (a != b)
        {
            throw new ArgumentException($"Vector lengths differ: {a} and {b}.");
        }
    }
}
