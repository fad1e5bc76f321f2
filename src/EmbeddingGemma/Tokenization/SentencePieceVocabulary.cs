namespace EmbeddingGemma.Tokenization;

/// <summary>
/// A SentencePiece BPE vocabulary as llama.cpp stores it in GGUF (<c>tokenizer.ggml.model = "llama"</c>):
/// pieces, scores and types by id, the special ids and the add-bos/add-eos flags. Merging is by piece score
/// (highest first, leftmost on ties), as SentencePiece BPE does; there is no merges list.
/// </summary>
/// <param name="Tokens"><c>tokenizer.ggml.tokens</c>.</param>
/// <param name="Scores"><c>tokenizer.ggml.scores</c>.</param>
/// <param name="TokenTypes"><c>tokenizer.ggml.token_type</c>.</param>
/// <param name="BosId"><c>tokenizer.ggml.bos_token_id</c>.</param>
/// <param name="EosId"><c>tokenizer.ggml.eos_token_id</c>.</param>
/// <param name="UnkId"><c>tokenizer.ggml.unknown_token_id</c>.</param>
/// <param name="PadId"><c>tokenizer.ggml.padding_token_id</c>.</param>
/// <param name="AddBosToken"><c>tokenizer.ggml.add_bos_token</c>.</param>
/// <param name="AddEosToken"><c>tokenizer.ggml.add_eos_token</c>.</param>
/// <param name="AddSpacePrefix"><c>tokenizer.ggml.add_space_prefix</c>; Gemma writes false (true is not supported).</param>
public sealed record SentencePieceVocabulary(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float> Scores,
    IReadOnlyList<SentencePieceTokenType> TokenTypes,
    int BosId = 2,
    int EosId = 1,
    int UnkId = 3,
    int PadId = 0,
    bool AddBosToken = true,
    bool AddEosToken = true,
    bool AddSpacePrefix = false);
