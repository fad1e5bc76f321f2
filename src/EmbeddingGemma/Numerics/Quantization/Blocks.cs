using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmbeddingGemma.Numerics.Quantization;

/// <summary>ggml's <c>block_q8_0</c>: fp16 scale d, then 32 signed bytes; value = q·d. 34 bytes, no padding.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ8_0
{
    /// <summary>Elements per block.</summary>
    public const int Count = 32;

    /// <summary>Scale, IEEE half bits.</summary>
    public ushort D;

    /// <summary>The 32 quants.</summary>
    public Quants32 Qs;

    /// <summary>Inline array of 32 signed bytes.</summary>
    [InlineArray(32)]
    public struct Quants32
    {
        private sbyte _element0;
    }
}

/// <summary>ggml's <c>block_q4_0</c>: fp16 scale d, then 16 bytes of nibbles (low nibbles = elements 0..15, high = 16..31); value = (q − 8)·d. 18 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BlockQ4_0
{
    /// <summary>Elements per block.</summary>
    public const int Count = 32;

    /// <summary>Scale, IEEE half bits.</summary>
    public ushort D;

    /// <summary>The packed nibbles.</summary>
    public Nibbles16 Qs;

    /// <summary>Inline array of 16 bytes.</summary>
    [InlineArray(16)]
    public struct Nibbles16
    {
        private byte _element0;
    }
}
