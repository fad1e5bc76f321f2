namespace EmbeddingGemma.Tokenization;

/// <summary>
/// One token of an encoding: its id, its piece (vocabulary string) and the characters of the original text it covers.
/// Tokens added by the tokenizer (<c>&lt;bos&gt;</c>, <c>&lt;eos&gt;</c>) cover an empty range; byte-fallback tokens of
/// one character all cover that whole character. Shaped like Microsoft.ML.Tokenizers' <c>EncodedToken</c>.
/// </summary>
/// <param name="Id">The token id.</param>
/// <param name="Value">The token's piece, e.g. <c>▁world</c> or <c>&lt;0xE4&gt;</c>.</param>
/// <param name="Offset">The range of UTF-16 characters of the original text that produced the token.</param>
public readonly record struct GemmaToken(int Id, string Value, Range Offset);
