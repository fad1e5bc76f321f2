using EmbeddingGemma.Numerics;
using EmbeddingGemma.Numerics.Kernels;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>A destination with sentinel guard regions on both sides, to catch out-of-bounds writes.</summary>
internal sealed class Guarded
{
    private const int Pad = 19;
    private const float Sentinel = -7.77e33f;
    private readonly float[] _all;

    public Guarded(int length)
    {
        Length = length;
        _all = new float[length + 2 * Pad];
        Array.Fill(_all, Sentinel);
    }

    public int Length { get; }

    public Span<float> Span => _all.AsSpan(Pad, Length);

    public float[] ToArray() => Span.ToArray();

    public void Fill(ReadOnlySpan<float> values) => values.CopyTo(Span);

    public void AssertGuards(string what)
    {
        for (var i = 0; i < Pad; i++)
        {
            Assert.True(_all[i] == Sentinel, $"{what}: write before the destination at offset {i - Pad}.");
            Assert.True(_all[Pad + Length + i] == Sentinel, $"{what}: write past the destination at offset {Length + i}.");
        }
    }
}

internal static class KernelTestUtil
{
    public static IEnumerable<object[]> Variants() => KernelCatalog.Available.Where(v => v != KernelVariant.Scalar).Select(v => new object[] { v });

    public static IEnumerable<object[]> AllVariants() => KernelCatalog.Available.Select(v => new object[] { v });

    public static KernelSet Scalar => KernelCatalog.Get(KernelVariant.Scalar);

    public static float[] Random(Random rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (var i = 0; i < n; i++)
        {
            a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        }
        return a;
    }

    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float relative, float absolute, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var tol = absolute + relative * Math.Abs(expected[i]);
            if (!(Math.Abs(expected[i] - actual[i]) <= tol))
            {
                Assert.Fail($"{what}: element {i} of {expected.Length}: expected {expected[i]:R}, got {actual[i]:R} (|diff| {Math.Abs(expected[i] - actual[i]):E2} > {tol:E2}).");
            }
        }
    }
}
