using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Numerics;

/// <summary>The kernel variants, named by technique.</summary>
public enum KernelVariant
{
    /// <summary>Plain span loops: the reference every other variant is tested against, and the fallback on any CPU.</summary>
    Scalar,
    /// <summary>128-bit vectors (SSE4/AVX on x64, AdvSimd on ARM64) through System.Runtime.Intrinsics.</summary>
    Vector128,
    /// <summary>256-bit vectors with FMA (AVX2/FMA on x64).</summary>
    Vector256,
    /// <summary>512-bit vectors (AVX-512) for the float kernels; the int8 dot product uses the 256-bit path.</summary>
    Vector512,
}

/// <summary>The int8 GEMMs of the kernel catalog (see <see cref="Kernels.KernelSet.Int8Gemm"/>).</summary>
public enum Int8GemmKernel
{
    /// <summary>Row-by-row int8 block dot products over weights unpacked per panel (portable).</summary>
    RowDot,
    /// <summary>AVX2 x8-interleaved int8 GEMM over weights packed once at load.</summary>
    Interleaved,
}

/// <summary>
/// Lists the kernel variants this CPU can run, picks the fastest, and lets the environment variable
/// <see cref="EnvironmentVariable"/> (<c>scalar|v128|v256|v512</c>) force one. <see cref="ThreadsVariable"/> sets the
/// default thread count (otherwise the usable cores).
/// </summary>
public static class KernelCatalog
{
    /// <summary>Forces a variant: <c>scalar</c>, <c>v128</c>, <c>v256</c> or <c>v512</c>.</summary>
    public const string EnvironmentVariable = "EMBEDDINGGEMMA_KERNELS";

    /// <summary>Default thread count for matrix products and attention.</summary>
    public const string ThreadsVariable = "EMBEDDINGGEMMA_THREADS";

    private static readonly KernelSet ScalarSet = new ScalarKernels();
    private static readonly Lazy<KernelSet?> V128Set = new(() => SimdKernels<Simd128, Vector128<float>>.IsSupported ? new SimdKernels<Simd128, Vector128<float>>(KernelVariant.Vector128) : null);
    private static readonly Lazy<KernelSet?> V256Set = new(() => SimdKernels<Simd256, Vector256<float>>.IsSupported ? new SimdKernels<Simd256, Vector256<float>>(KernelVariant.Vector256) : null);
    private static readonly Lazy<KernelSet?> V512Set = new(() => SimdKernels<Simd512, Vector512<float>>.IsSupported ? new SimdKernels<Simd512, Vector512<float>>(KernelVariant.Vector512) : null);
    private static readonly Lazy<KernelSet> DefaultSet = new(ChooseDefault);

    /// <summary>The variants this CPU supports, scalar first.</summary>
    public static IReadOnlyList<KernelVariant> Available { get; } = FindAvailable();

    /// <summary>The active kernel set: the forced variant, else the widest supported one.</summary>
    public static KernelSet Default => DefaultSet.Value;

    /// <summary>The kernel set of <paramref name="variant"/>; throws if the CPU cannot run it.</summary>
    public static KernelSet Get(KernelVariant variant) => TryGet(variant)
        ?? throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"Kernel variant {variant} is not supported on this CPU (available: {string.Join(", ", Available)}).");

    /// <summary>The kernel set of <paramref name="variant"/>, or null when the CPU cannot run it.</summary>
    public static KernelSet? TryGet(KernelVariant variant) => variant switch
    {
        KernelVariant.Scalar => ScalarSet,
        KernelVariant.Vector128 => V128Set.Value,
        KernelVariant.Vector256 => V256Set.Value,
        KernelVariant.Vector512 => V512Set.Value,
        _ => null,
    };

    /// <summary>Usable cores, or the value of <see cref="ThreadsVariable"/> when set to a positive integer.</summary>
    public static int DefaultThreads
    {
        get
        {
            var env = Environment.GetEnvironmentVariable(ThreadsVariable);
            if (int.TryParse(env, out var t) && t > 0)
            {
                return t;
            }
            return Math.Max(1, Environment.ProcessorCount);
        }
    }

    /// <summary>Parses <c>scalar|v128|v256|v512</c> (also the enum names).</summary>
    public static KernelVariant Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "scalar" => KernelVariant.Scalar,
        "v128" or "vector128" => KernelVariant.Vector128,
        "v256" or "vector256" or "avx2" => KernelVariant.Vector256,
        "v512" or "vector512" or "avx512" => KernelVariant.Vector512,
        _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{EnvironmentVariable}='{name}': expected scalar, v128, v256 or v512."),
    };

    private static List<KernelVariant> FindAvailable()
    {
        var list = new List<KernelVariant>();
        foreach (var v in Enum.GetValues<KernelVariant>())
        {
            if (TryGet(v) is not null)
            {
                list.Add(v);
            }
        }
        return list;
    }

    private static KernelSet ChooseDefault()
    {
        var forced = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(forced))
        {
            return Get(Parse(forced));
        }
        // The widest variant is not always the fastest (AVX-512 frequency drops on some parts); prefer 256 bits when
        // the CPU has both unless forced.
        if (TryGet(KernelVariant.Vector256) is { } v256)
        {
            return v256;
        }
        return TryGet(KernelVariant.Vector512) ?? TryGet(KernelVariant.Vector128) ?? ScalarSet;
    }

    internal static bool HasAvx2Fma => Avx2.IsSupported && Fma.IsSupported;
}
