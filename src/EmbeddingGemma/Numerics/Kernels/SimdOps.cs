using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EmbeddingGemma.Numerics.Kernels;

/// <summary>
/// The few vector operations the SIMD kernels need, as static abstract members so that
/// <see cref="SimdKernels{TOps, TVec}"/> is written once and specialised by the JIT for each width.
/// </summary>
internal interface ISimd<TVec> where TVec : struct
{
    static abstract bool IsSupported { get; }
    static abstract int Count { get; }
    static abstract TVec Zero { get; }
    static abstract TVec Create(float value);
    static abstract TVec Load(ref readonly float source, nuint offset);
    static abstract void Store(TVec value, ref float destination, nuint offset);
    static abstract TVec Add(TVec a, TVec b);
    static abstract TVec Sub(TVec a, TVec b);
    static abstract TVec Mul(TVec a, TVec b);
    static abstract TVec Div(TVec a, TVec b);
    static abstract TVec Max(TVec a, TVec b);
    static abstract TVec Abs(TVec a);
    /// <summary>a·b + c with one rounding.</summary>
    static abstract TVec Fma(TVec a, TVec b, TVec c);
    static abstract TVec Exp(TVec a);
    static abstract float Sum(TVec a);
    static abstract float MaxAcross(TVec a);
    /// <summary>Exact Σ x[i]·y[i] over n int8 values (<see cref="Int8Dot"/>).</summary>
    static abstract int DotInt8(ref sbyte x, ref sbyte y, int n);
}

internal readonly struct Simd128 : ISimd<Vector128<float>>
{
    public static bool IsSupported => Vector128.IsHardwareAccelerated && (!(Sse.IsSupported) || System.Runtime.Intrinsics.X86.Fma.IsSupported);
    public static int Count => Vector128<float>.Count;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Create(float value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(ref readonly float source, nuint offset) => Vector128.LoadUnsafe(in source, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Abs(Vector128<float> a) => Vector128.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Exp(Vector128<float> a) => Vector128.Exp(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector128<float> a) => Vector128.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DotInt8(ref sbyte x, ref sbyte y, int n) => Int8Dot.Vector128Widen(ref x, ref y, n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector128<float> a)
    {
        var m = a[0];
        for (var i = 1; i < Vector128<float>.Count; i++)
        {
            m = MathF.Max(m, a[i]);
        }
        return m;
    }
}

internal readonly struct Simd256 : ISimd<Vector256<float>>
{
    public static bool IsSupported => Vector256.IsHardwareAccelerated && Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Create(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(ref readonly float source, nuint offset) => Vector256.LoadUnsafe(in source, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> a) => Vector256.Exp(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> a) => Vector256.Sum(a);
    public static int DotInt8(ref sbyte x, ref sbyte y, int n) => Int8Dot.MaddAvx2(ref x, ref y, n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> a) => Simd128.MaxAcross(Vector128.Max(a.GetLower(), a.GetUpper()));
}

internal readonly struct Simd512 : ISimd<Vector512<float>>
{
    public static bool IsSupported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Create(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(ref readonly float source, nuint offset) => Vector512.LoadUnsafe(in source, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> a) => Vector512.Exp(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> a) => Vector512.Sum(a);
    public static int DotInt8(ref sbyte x, ref sbyte y, int n) => Int8Dot.MaddAvx2(ref x, ref y, n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> a) => Simd256.MaxAcross(Vector256.Max(a.GetLower(), a.GetUpper()));
}
