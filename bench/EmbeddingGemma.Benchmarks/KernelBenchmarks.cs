using BenchmarkDotNet.Attributes;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Benchmarks;

/// <summary>
/// The projection GEMM of one encoder layer's FFN (C[M, 1152] = A[M, 768]·Wᵀ) per weight type and kernel variant.
/// Run: <c>dotnet run -c Release --project bench/EmbeddingGemma.Benchmarks -- --filter '*GemmBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private WeightMatrix _w = null!;
    private float[] _a = [];
    private float[] _c = [];

    [Params(GgmlType.F32, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0)]
    public GgmlType Type { get; set; }

    [Params(KernelVariant.Vector256)]
    public KernelVariant Variant { get; set; }

    [Params(256)]
    public int M { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    public const int N = 1152, K = 768;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        var w = new float[N * K];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)rng.NextDouble() - 0.5f;
        }
        _w = WeightMatrix.Quantize("w", w, N, K, Type);
        _a = new float[M * K];
        for (var i = 0; i < _a.Length; i++)
        {
            _a[i] = (float)rng.NextDouble() - 0.5f;
        }
        _c = new float[M * N];
    }

    [Benchmark]
    public void MatMul() => _w.MatMul(_a, M, _c, Threads, KernelCatalog.Get(Variant));
}

/// <summary>Elementwise kernels on one 768-wide row, per variant.</summary>
public class RowKernelBenchmarks
{
    private readonly float[] _x = new float[768];
    private readonly float[] _y = new float[768];
    private readonly float[] _d = new float[768];

    [ParamsAllValues]
    public KernelVariant Variant { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2);
        for (var i = 0; i < 768; i++)
        {
            _x[i] = (float)rng.NextDouble() - 0.5f;
            _y[i] = 1f + (float)rng.NextDouble();
        }
    }

    [Benchmark] public float Dot() => KernelCatalog.TryGet(Variant)?.Dot(_x, _y) ?? 0;
    [Benchmark] public void RmsNorm() => KernelCatalog.TryGet(Variant)?.RmsNorm(_x, _y, 1e-6f, _d);
    [Benchmark] public void GeluTanhMul() => KernelCatalog.TryGet(Variant)?.GeluTanhMul(_x, _y, _d);
}
