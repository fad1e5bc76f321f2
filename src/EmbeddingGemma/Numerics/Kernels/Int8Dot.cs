using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>
/// Exact int8 dot products (<see cref="KernelSet.DotInt8"/>) for the vector variants. Integer sums do not depend on
/// order, so every variant returns what the scalar reference returns.
/// </summary>
internal static class Int8Dot
{
    /// <summary>
    /// AVX2: sign-extend to int16 (<c>vpmovsxbw</c>), multiply and add adjacent pairs into int32 (<c>vpmaddwd</c>;
    /// |x·y| ≤ 2¹⁴ fits int16 products and pair sums fit int32). Used by the 256- and 512-bit variants.
    /// </summary>
    public static int MaddAvx2(ref sbyte x, ref sbyte y, int n)
    {
        var acc0 = Vector256<int>.Zero;
        var acc1 = Vector256<int>.Zero;
        nuint i = 0;
        for (; (int)i + 32 <= n; i += 32)
        {
            var vx = Vector256.LoadUnsafe(ref x, i);
            var vy = Vector256.LoadUnsafe(ref y, i);
            acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(
                Avx2.ConvertToVector256Int16(vx.GetLower()), Avx2.ConvertToVector256Int16(vy.GetLower())));
            acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(
                Avx2.ConvertToVector256Int16(vx.GetUpper()), Avx2.ConvertToVector256Int16(vy.GetUpper())));
        }
        for (; (int)i + 16 <= n; i += 16)
        {
            var vx = Vector128.LoadUnsafe(ref x, i);
            var vy = Vector128.LoadUnsafe(ref y, i);
            acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(
                Avx2.ConvertToVector256Int16(vx), Avx2.ConvertToVector256Int16(vy)));
        }
        var sum = Vector256.Sum(acc0 + acc1);
        for (; (int)i < n; i++)
        {
            sum += Unsafe.Add(ref x, i) * Unsafe.Add(ref y, i);
        }
        return sum;
    }

    /// <summary>
    /// Portable 128-bit path (SSE4 or AdvSimd): widen int8 → int16, multiply (products fit int16), widen → int32, add.
    /// </summary>
    public static int Vector128Widen(ref sbyte x, ref sbyte y, int n)
    {
        var acc = Vector128<int>.Zero;
        nuint i = 0;
        for (; (int)i + 16 <= n; i += 16)
        {
            var (xl, xh) = Vector128.Widen(Vector128.LoadUnsafe(ref x, i));
            var (yl, yh) = Vector128.Widen(Vector128.LoadUnsafe(ref y, i));
            var (p0, p1) = Vector128.Widen(xl * yl);
            var (p2, p3) = Vector128.Widen(xh * yh);
            acc += (p0 + p1) + (p2 + p3);
        }
        var sum = Vector128.Sum(acc);
        for (; (int)i < n; i++)
        {
            sum += Unsafe.Add(ref x, i) * Unsafe.Add(ref y, i);
        }
        return sum;
    }
}
