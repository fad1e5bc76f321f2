namespace EmbeddingGemma.Tokenization;

/// <summary>
/// A token matched literally in the text before BPE runs (a Hugging Face <c>added_tokens</c> entry, or a GGUF
/// CONTROL / USER_DEFINED / UNKNOWN piece).
/// </summary>
/// <param name="Id">Its id.</param>
/// <param name="Content">The text it matches.</param>
/// <param name="Special">Special tokens are skipped by <c>Decode(..., skipSpecialTokens: true)</c>.</param>
/// <param name="Normalized">Matched on the normalized text (spaces already replaced by ▁) instead of the raw text.</param>
/// <param name="LStrip">A match also takes the whitespace on its left.</param>
/// <param name="RStrip">A match also takes the whitespace on its right.</param>
/// <param name="SingleWord">Matched only when not touching a word character (letter, digit or '_') on either side.</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized = false, bool LStrip = false, bool RStrip = false, bool SingleWord = false);
