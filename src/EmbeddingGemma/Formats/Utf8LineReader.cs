using System.Buffers;
using System.Text;
using System.Text.Json;

namespace EmbeddingGemma.Formats;

/// <summary>
/// Reads text lines from a stream of UTF-8 bytes, strictly: a line holding bytes that are not valid UTF-8 is refused
/// (InvalidArgument naming the line and the byte) instead of being decoded to U+FFFD. Lines end at <c>\n</c>; a
/// trailing <c>\r</c> and a UTF-8 byte-order mark at the very start are dropped. Each line is decoded on its own, so
/// the error names the right line (a StreamReader decodes whole buffers ahead of the line it returns).
/// </summary>
public sealed class Utf8LineReader : IDisposable
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer = new byte[1 << 16];
    private readonly ArrayBufferWriter<byte> _line = new(1 << 12);
    private int _pos;
    private int _len;
    private bool _eof;

    /// <summary>Reads from <paramref name="stream"/> (disposed with the reader unless <paramref name="leaveOpen"/>).</summary>
    public Utf8LineReader(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    public static Utf8LineReader Open(string path) => new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan));

    /// <summary>1-based number of the line last returned (0 before the first).</summary>
    public int LineNumber { get; private set; }

    /// <summary>The next line, or null at the end of the stream.</summary>
    public string? ReadLine() => ReadLineAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <summary>The next line, or null at the end of the stream.</summary>
    public async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        _line.ResetWrittenCount();
        var any = false;
        while (true)
        {
            if (_pos == _len)
            {
                if (_eof)
                {
                    break;
                }
                _len = await _stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
                _pos = 0;
                if (_len == 0)
                {
                    _eof = true;
                    break;
                }
            }
            any = true;
            var rest = _buffer.AsSpan(_pos, _len - _pos);
            var nl = rest.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                _line.Write(rest[..nl]);
                _pos += nl + 1;
                return Decode();
            }
            _line.Write(rest);
            _pos = _len;
        }
        return any && _line.WrittenCount > 0 ? Decode() : null;
    }

    private string Decode()
    {
        LineNumber++;
        var bytes = _line.WrittenSpan;
        if (LineNumber == 1 && bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            bytes = bytes[3..];
        }
        if (!bytes.IsEmpty && bytes[^1] == (byte)'\r')
        {
            bytes = bytes[..^1];
        }
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            var at = e.Index >= 0 ? $" at byte {e.Index + 1} of the line" : "";
            var bad = e.BytesUnknown is { Length: > 0 } b ? $" (0x{Convert.ToHexString(b)})" : "";
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"line {LineNumber}: invalid UTF-8{bad}{at}; the input must be UTF-8 text.", e);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <summary>
    /// The string value of a JSON string element, refusing one whose escapes decode to an unpaired surrogate
    /// (<c>"\ud800"</c>: not text) with InvalidArgument naming the line and field, as the HTTP service does (400).
    /// </summary>
    public static string GetJsonString(JsonElement element, int lineNumber, string field)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException e) when (element.ValueKind == JsonValueKind.String)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"line {lineNumber}: unpaired surrogate (invalid UTF-16 escape) in field {field}; the text must be valid Unicode.", e);
        }
    }
}
