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
    bool AddEos = true)
{
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
        foreach (var m in model["merges"] as JsonArray ?? [])
        {
            string merged = m is JsonArray pair ? (string)pair[0]! + (string)pair[1]! : ((string)m!).Replace(" ", "", StringComparison.Ordinal);
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
        return new TokenizerVocabulary(tokens, scores, types, Id("<bos>", 2), Id("<eos>", 1), Id(unkName, 3), Id("<pad>", 0));
    }

    /// <summary>Adds the tokenizer.ggml.* keys to a GGUF writer (model "llama" = SentencePiece, no space prefix).</summary>
    public void WriteTo(GgufWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.AddString("tokenizer.ggml.model", "llama")
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
        for (var id = 0; id < Tokens.Count; id++)
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
                ["merges"] = new JsonArray(candidates.Select(c => (JsonNode)new JsonArray(c.A, c.B)).ToArray()),
            },
        };
        return root.ToJsonString();
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
        return new TokenizerVocabulary(tokens, scores, types,
            (int)(gguf.TryGetUInt("tokenizer.ggml.bos_token_id") ?? 2), (int)(gguf.TryGetUInt("tokenizer.ggml.eos_token_id") ?? 1),
            (int)(gguf.TryGetUInt("tokenizer.ggml.unknown_token_id") ?? 3), (int)(gguf.TryGetUInt("tokenizer.ggml.padding_token_id") ?? 0),
            gguf.TryGetBool("tokenizer.ggml.add_bos_token") ?? true, gguf.TryGetBool("tokenizer.ggml.add_eos_token") ?? true);
    }
}
