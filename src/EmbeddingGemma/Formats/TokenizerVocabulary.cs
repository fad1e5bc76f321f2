using System.Text.Json.Nodes;

namespace EmbeddingGemma.Formats;

/// <summary>SentencePiece token types as GGUF stores them (llama.cpp <c>llama_token_type</c>).</summary>
public enum GgufTokenType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>
/// The tokenizer vocabulary as GGUF carries it (<c>tokenizer.ggml.tokens/scores/token_type</c>, special ids, flags).
/// Built from a Hugging Face tokenizer.json (BPE): a piece's score is minus the rank of the first merge that
/// produces it, so "higher score merges first" (SentencePiece/llama.cpp) equals "lower rank merges first" (HF BPE).
/// Two GGUF tokenizer models: <c>llama</c> (SentencePiece BPE, merges implied by the scores; EmbeddingGemma) and
/// <c>gemma4</c> (EmbeddingGemma 2, llama.cpp's <c>Gemma4Model.set_vocab</c>: BPE with an explicit
/// <c>tokenizer.ggml.merges</c> list of "a b" strings; llama.cpp's converter writes placeholder scores, so the merges,
/// not the scores, define the merging).
/// </summary>
public sealed record TokenizerVocabulary(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float> Scores,
    IReadOnlyList<int> TokenTypes,
    int BosId,
    int EosId,
    int UnknownId,
    int PaddingId,
    bool AddBos = true,
    bool AddEos = true,
    string Model = TokenizerVocabulary.ModelLlama,
    IReadOnlyList<string>? Merges = null)
{
    /// <summary><c>tokenizer.ggml.model</c> of a SentencePiece vocabulary (merges from scores).</summary>
    public const string ModelLlama = "llama";

    /// <summary><c>tokenizer.ggml.model</c> of the Gemma 4 tokenizer (BPE with <c>tokenizer.ggml.merges</c>; EmbeddingGemma 2).</summary>
    public const string ModelGemma4 = "gemma4";

    /// <summary>Reads the vocabulary of a BPE tokenizer.json.</summary>
    public static TokenizerVocabulary FromTokenizerJson(string json, string source = "tokenizer.json")
    {
        JsonNode root;
        try
        {
            root = JsonNode.Parse(json) ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: empty JSON.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: invalid JSON: {e.Message}", e) { FilePath = source };
        }
        var model = root["model"] as JsonObject ?? throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{source}: 'model' object missing.") { FilePath = source };
        if ((string?)model["type"] != "BPE" || model["vocab"] is not JsonObject vocab)
        {
            throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{source}: only BPE tokenizer.json files with a vocab object are supported.") { FilePath = source };
        }
        var added = root["added_tokens"] as JsonArray ?? [];
        var size = vocab.Count;
        foreach (var a in added)
        {
            size = Math.Max(size, (int)a!["id"]! + 1);
        }
        var tokens = new string[size];
        var types = new int[size];
        var scores = new float[size];
        foreach (var (piece, idNode) in vocab)
        {
            var id = (int)idNode!;
            tokens[id] = piece;
            types[id] = piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece.EndsWith('>') ? (int)GgufTokenType.Byte : (int)GgufTokenType.Normal;
        }
        var rank = 0;
        var merges = new List<string>();
        foreach (var m in model["merges"] as JsonArray ?? [])
        {
            var text = m is JsonArray pair ? (string)pair[0]! + " " + (string)pair[1]! : (string)m!;
            merges.Add(text);
            string merged = m is JsonArray p2 ? (string)p2[0]! + (string)p2[1]! : text.Replace(" ", "", StringComparison.Ordinal);
            if (vocab[merged] is JsonNode idn)
            {
                var id = (int)idn;
                if (scores[id] == 0)
                {
                    scores[id] = -(rank + 1);
                }
            }
            rank++;
        }
        var unkName = (string?)model["unk_token"] ?? "<unk>";
        foreach (var a in added)
        {
            var id = (int)a!["id"]!;
            var content = (string)a["content"]!;
            tokens[id] = content;
            types[id] = content == unkName ? (int)GgufTokenType.Unknown : (bool?)a["special"] == true ? (int)GgufTokenType.Control : (int)GgufTokenType.UserDefined;
        }
        for (var i = 0; i < size; i++)
        {
            if (tokens[i] is null)
            {
                tokens[i] = $"<unused_{i}>";
                types[i] = (int)GgufTokenType.Unused;
            }
        }
        int Id(string piece, int fallback) => Array.IndexOf(tokens, piece) is var i && i >= 0 ? i : fallback;
        return new TokenizerVocabulary(tokens, scores, types, Id("<bos>", 2), Id("<eos>", 1), Id(unkName, 3), Id("<pad>", 0), Merges: merges);
    }

    /// <summary>
    /// Adds the tokenizer.ggml.* keys to a GGUF writer (no space prefix): <see cref="Model"/>, tokens, scores, types,
    /// special ids and flags, and for <c>gemma4</c> the merges (llama.cpp's <c>SpecialVocab(load_merges=True)</c>).
    /// </summary>
    public void WriteTo(GgufWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var merges = Model == ModelGemma4
            ? Merges ?? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "A gemma4 GGUF vocabulary needs its merges (tokenizer.ggml.merges).")
            : null;
        writer.AddString("tokenizer.ggml.model", Model)
            .AddStrings("tokenizer.ggml.tokens", Tokens)
            .AddFloats("tokenizer.ggml.scores", Scores)
            .AddInts("tokenizer.ggml.token_type", TokenTypes)
            .AddUInt32("tokenizer.ggml.bos_token_id", (uint)BosId)
            .AddUInt32("tokenizer.ggml.eos_token_id", (uint)EosId)
            .AddUInt32("tokenizer.ggml.unknown_token_id", (uint)UnknownId)
            .AddUInt32("tokenizer.ggml.padding_token_id", (uint)PaddingId)
            .AddBool("tokenizer.ggml.add_bos_token", AddBos)
            .AddBool("tokenizer.ggml.add_eos_token", AddEos)
            .AddBool("tokenizer.ggml.add_space_prefix", false);
        if (merges is not null)
        {
            writer.AddStrings("tokenizer.ggml.merges", merges);
        }
    }

    /// <summary>
    /// Writes this vocabulary as a Hugging Face BPE tokenizer.json of the Gemma structure (byte fallback,
    /// <c>Replace(" " -> "▁")</c> normalizer, <c>&lt;bos&gt; $A &lt;eos&gt;</c>), so a folder converted from a GGUF
    /// without a tokenizer.json beside it can still encode text. SentencePiece BPE merges the adjacent pair whose
    /// concatenation has the highest score; the equivalent HF merge list therefore lists, for every normal piece in
    /// descending score order, each split of it into two pieces of the vocabulary (spec §5; inverse of
    /// <see cref="FromTokenizerJson"/>, whose score is minus the rank of the first merge making the piece).
    /// </summary>
    public string ToTokenizerJson()
    {
        var ids = new Dictionary<string, int>(Tokens.Count, StringComparer.Ordinal);
        for (var i = 0; i < Tokens.Count; i++)
        {
            ids.TryAdd(Tokens[i], i);
        }
        bool Mergeable(int id) => TokenTypes[id] is (int)GgufTokenType.Normal or (int)GgufTokenType.UserDefined;
        var candidates = new List<(float Score, int Id, int Split, string A, string B)>();
        for (var id = 0; Merges is null && id < Tokens.Count; id++)
        {
            var piece = Tokens[id];
            if (!Mergeable(id) || piece.Length < 2)
            {
                continue;
            }
            for (var k = 1; k < piece.Length; k++)
            {
                if (char.IsLowSurrogate(piece[k]))
                {
                    continue;
                }
                var a = piece[..k];
                var b = piece[k..];
                if (ids.TryGetValue(a, out var ia) && ids.TryGetValue(b, out var ib) && Mergeable(ia) && Mergeable(ib))
                {
                    candidates.Add((Scores[id], id, k, a, b));
                }
            }
        }
        candidates.Sort((x, y) => x.Score != y.Score ? y.Score.CompareTo(x.Score) : x.Id != y.Id ? x.Id.CompareTo(y.Id) : x.Split.CompareTo(y.Split));
        var added = new JsonArray();
        for (var id = 0; id < Tokens.Count; id++)
        {
            var type = TokenTypes[id];
            if (type is (int)GgufTokenType.Control or (int)GgufTokenType.UserDefined or (int)GgufTokenType.Unknown)
            {
                added.Add((JsonNode)new JsonObject
                {
                    ["id"] = id, ["content"] = Tokens[id], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                    ["normalized"] = false, ["special"] = type != (int)GgufTokenType.UserDefined,
                });
            }
        }
        var vocab = new JsonObject();
        foreach (var (piece, id) in ids.OrderBy(kv => kv.Value))
        {
            vocab[piece] = id;
        }
        var bos = Tokens[BosId];
        var eos = Tokens[EosId];
        var single = new JsonArray();
        if (AddBos)
        {
            single.Add((JsonNode)new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } });
        }
        single.Add((JsonNode)new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } });
        if (AddEos)
        {
            single.Add((JsonNode)new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = eos, ["type_id"] = 0 } });
        }
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "\u2581" },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["String"] = " " }, ["behavior"] = "MergedWithPrevious", ["invert"] = false },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = single,
                ["pair"] = new JsonArray(),
                ["special_tokens"] = new JsonObject
                {
                    [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(BosId), ["tokens"] = new JsonArray(bos) },
                    [eos] = new JsonObject { ["id"] = eos, ["ids"] = new JsonArray(EosId), ["tokens"] = new JsonArray(eos) },
                },
            },
            ["decoder"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["decoders"] = new JsonArray(
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "\u2581" }, ["content"] = " " },
                    new JsonObject { ["type"] = "ByteFallback" },
                    new JsonObject { ["type"] = "Fuse" }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = Tokens[UnknownId], ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = true, ["byte_fallback"] = true, ["ignore_merges"] = false,
                ["vocab"] = vocab,
                // explicit merges (gemma4) as given, else those implied by the scores
                ["merges"] = Merges is { } given
                    ? new JsonArray(given.Select(SplitMerge).Select(m => (JsonNode)new JsonArray(m.A, m.B)).ToArray())
                    : new JsonArray(candidates.Select(c => (JsonNode)new JsonArray(c.A, c.B)).ToArray()),
            },
        };
        return root.ToJsonString();
    }

    /// <summary>Splits a GGUF merge "a b" at its first space after the first character (as llama.cpp's BPE loader does).</summary>
    private static (string A, string B) SplitMerge(string merge)
    {
        var at = merge.Length > 1 ? merge.IndexOf(' ', 1) : -1;
        return at > 0 ? (merge[..at], merge[(at + 1)..]) : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"tokenizer.ggml.merges: '{merge}' is not two pieces separated by a space.");
    }

    /// <summary>tokenizer_config.json carrying this vocabulary's add_bos/add_eos flags.</summary>
    public string ToTokenizerConfigJson() => new JsonObject
    {
        ["add_bos_token"] = AddBos,
        ["add_eos_token"] = AddEos,
        ["bos_token"] = Tokens[BosId],
        ["eos_token"] = Tokens[EosId],
        ["unk_token"] = Tokens[UnknownId],
        ["pad_token"] = Tokens[PaddingId],
        ["padding_side"] = "right",
        ["model_max_length"] = 2048,
    }.ToJsonString();

    /// <summary>Reads tokenizer.ggml.* from a GGUF file (null when the file has no vocabulary).</summary>
    public static TokenizerVocabulary? FromGguf(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        var tokens = gguf.TryGetArray<string>("tokenizer.ggml.tokens");
        if (tokens is null)
        {
            return null;
        }
        var scores = gguf.TryGetArray<float>("tokenizer.ggml.scores") ?? new float[tokens.Length];
        var types = gguf.TryGetArray<int>("tokenizer.ggml.token_type") ?? Enumerable.Repeat((int)GgufTokenType.Normal, tokens.Length).ToArray();
        if (scores.Length != tokens.Length || types.Length != tokens.Length)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: tokenizer.ggml.tokens/scores/token_type lengths differ ({tokens.Length}/{scores.Length}/{types.Length}).") { FilePath = gguf.Path };
        }
        var model = gguf.TryGetString("tokenizer.ggml.model") ?? ModelLlama;
        var merges = gguf.TryGetArray<string>("tokenizer.ggml.merges");
        if (model == ModelGemma4 && merges is null)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: tokenizer.ggml.model is gemma4 (BPE) but tokenizer.ggml.merges is missing.") { FilePath = gguf.Path };
        }
        foreach (var m in merges ?? [])
        {
            if (m is null || m.Length < 3 || m.IndexOf(' ', 1) < 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{gguf.Path}: tokenizer.ggml.merges entry '{m}' is not two pieces separated by a space.") { FilePath = gguf.Path };
            }
        }
        return new TokenizerVocabulary(tokens, scores, types,
            (int)(gguf.TryGetUInt("tokenizer.ggml.bos_token_id") ?? 2), (int)(gguf.TryGetUInt("tokenizer.ggml.eos_token_id") ?? 1),
            (int)(gguf.TryGetUInt("tokenizer.ggml.unknown_token_id") ?? 3), (int)(gguf.TryGetUInt("tokenizer.ggml.padding_token_id") ?? 0),
            gguf.TryGetBool("tokenizer.ggml.add_bos_token") ?? true, gguf.TryGetBool("tokenizer.ggml.add_eos_token") ?? true,
            model, model == ModelGemma4 ? merges : null);
    }
}
