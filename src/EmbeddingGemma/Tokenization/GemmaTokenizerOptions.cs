namespace EmbeddingGemma.Tokenization;

/// <summary>Options that override what the tokenizer files say.</summary>
public sealed record GemmaTokenizerOptions
{
    /// <summary>
    /// Add <c>&lt;bos&gt;</c> in front of every sequence. Null: <c>add_bos_token</c> from <c>tokenizer_config.json</c>,
    /// or true when the file or the field is absent.
    /// </summary>
    public bool? AddBosToken { get; init; }

    /// <summary>
    /// Add <c>&lt;eos&gt;</c> at the end of every sequence. Null: <c>add_eos_token</c> from <c>tokenizer_config.json</c>,
    /// or true when the file or the field is absent (EmbeddingGemma's setting).
    /// </summary>
    public bool? AddEosToken { get; init; }

    /// <summary>
    /// The number of rows of the model's token-embedding table. The tokenizer never produces an id at or above it:
    /// an added token whose id is &gt;= this is dropped (its text is tokenized as ordinary text and <c>Decode</c>
    /// rejects its id). Null: the size of the BPE vocabulary (<c>model.vocab</c>; 262,144 for Gemma 3), which drops
    /// <c>&lt;image_soft_token&gt;</c> (id 262,144). Must not be smaller than the BPE vocabulary.
    /// </summary>
    public int? EmbeddingRows { get; init; }

    /// <summary>
    /// Entries of the per-thread cache of encoded words (up to 64 characters each; cleared when full). 0 turns it
    /// off. Null: 100,000. It only changes speed, never ids.
    /// </summary>
    public int? WordCacheSize { get; init; }
}
