namespace EmbeddingGemma.Tokenization;

/// <summary>
/// SentencePiece piece types, with the numeric values llama.cpp writes to GGUF (<c>tokenizer.ggml.token_type</c>).
/// </summary>
public enum SentencePieceTokenType
{
    /// <summary>An ordinary piece, produced by merging.</summary>
    Normal = 1,
    /// <summary>The unknown piece (<c>&lt;unk&gt;</c>).</summary>
    Unknown = 2,
    /// <summary>A control piece (<c>&lt;bos&gt;</c>, <c>&lt;eos&gt;</c>, ...): matched literally in text, skipped by <c>Decode(..., skipSpecialTokens: true)</c>.</summary>
    Control = 3,
    /// <summary>A user-defined piece: matched literally in the raw text before merging.</summary>
    UserDefined = 4,
    /// <summary>An unused slot: never produced.</summary>
    Unused = 5,
    /// <summary>A byte-fallback piece <c>&lt;0xXX&gt;</c>.</summary>
    Byte = 6,
}
