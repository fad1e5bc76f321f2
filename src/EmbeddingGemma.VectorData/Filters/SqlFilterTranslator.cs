using System.Collections;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using Microsoft.Extensions.VectorData.ProviderServices;

namespace EmbeddingGemma.VectorData.Filters;

/// <summary>
/// Translates a LINQ filter over a record into a SQLite WHERE clause over the stored JSON data (<c>json_extract</c>)
/// and the key column. Supported: <c>==</c>, <c>!=</c> (null-safe), <c>&lt; &lt;= &gt; &gt;=</c> on numbers,
/// <c>&amp;&amp;</c>, <c>||</c>, <c>!</c>, a bool property on its own, <c>Contains</c> on an array/list data
/// property (any element equal) and on a captured collection (value in the set). Sub-expressions that do not read the
/// record (captured variables, arithmetic on constants) are evaluated once. Anything else throws
/// <see cref="NotSupportedException"/> naming the expression.
/// </summary>
internal sealed class SqlFilterTranslator
{
    private readonly CollectionModel _model;
    private readonly ParameterExpression _record;
    private readonly StringBuilder _sql = new();
    private readonly List<object?> _parameters = [];
    private readonly string _dataColumn;
    private readonly string _keyColumn;

    private SqlFilterTranslator(CollectionModel model, ParameterExpression record, string dataColumn, string keyColumn)
    {
        _model = model;
        _record = record;
        _dataColumn = dataColumn;
        _keyColumn = keyColumn;
    }

    /// <summary>The SQL condition and its positional parameters (named <c>$f0</c>, <c>$f1</c>, ...).</summary>
    public static (string Sql, IReadOnlyList<object?> Parameters) Translate(LambdaExpression filter, CollectionModel model, string dataColumn = "data", string keyColumn = "key")
    {
        ArgumentNullException.ThrowIfNull(filter);
        var t = new SqlFilterTranslator(model, filter.Parameters[0], dataColumn, keyColumn);
        t.Predicate(filter.Body);
        return (t._sql.ToString(), t._parameters);
    }

    /// <summary>A SQL expression for a property chosen by a selector such as <c>r =&gt; r.Rating</c> (for ordering).</summary>
    public static (string Sql, IReadOnlyList<object?> Parameters) Translate(CollectionModel model, LambdaExpression selector, string dataColumn = "data", string keyColumn = "key")
    {
        var t = new SqlFilterTranslator(model, selector.Parameters[0], dataColumn, keyColumn);
        var body = selector.Body is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u ? u.Operand : selector.Body;
        if (!t.TryProperty(body, out var p))
        {
            throw Unsupported(selector.Body, "an ordering must select a key or data property");
        }
        t.PropertySql(p);
        return (t._sql.ToString(), t._parameters);
    }

    private void Predicate(Expression e)
    {
        switch (e.NodeType)
        {
            case ExpressionType.AndAlso:
            case ExpressionType.OrElse:
                {
                    var b = (BinaryExpression)e;
                    _sql.Append('(');
                    Predicate(b.Left);
                    _sql.Append(e.NodeType == ExpressionType.AndAlso ? " AND " : " OR ");
                    Predicate(b.Right);
                    _sql.Append(')');
                    return;
                }
            case ExpressionType.Not:
                _sql.Append("(NOT ");
                Predicate(((UnaryExpression)e).Operand);
                _sql.Append(')');
                return;
            case ExpressionType.Equal:
            case ExpressionType.NotEqual:
                Equality((BinaryExpression)e);
                return;
            case ExpressionType.LessThan:
            case ExpressionType.LessThanOrEqual:
            case ExpressionType.GreaterThan:
            case ExpressionType.GreaterThanOrEqual:
                Comparison((BinaryExpression)e);
                return;
            case ExpressionType.Call:
                Call((MethodCallExpression)e);
                return;
            case ExpressionType.Convert when e.Type == typeof(bool) || e.Type == typeof(bool?):
                Predicate(((UnaryExpression)e).Operand);
                return;
        }
        if (!ReadsRecord(e))
        {
            // A constant condition (a captured bool): true or false for every record.
            _sql.Append(Evaluate(e) is true ? "1" : "0");
            return;
        }
        if (TryProperty(e, out var p) && (Nullable.GetUnderlyingType(p.Type) ?? p.Type) == typeof(bool))
        {
            _sql.Append("COALESCE(");
            PropertySql(p);
            _sql.Append(" = 1, 0)");
            return;
        }
        throw Unsupported(e, "not a supported condition");
    }

    private void Equality(BinaryExpression b)
    {
        var (prop, other) = Split(b);
        bool eq = b.NodeType == ExpressionType.Equal;
        if (prop is null)
        {
            throw Unsupported(b, "one side must be a key or data property and the other a value that does not read the record");
        }
        if (other is null)
        {
            PropertySql(prop);
            _sql.Append(eq ? " IS NULL" : " IS NOT NULL");
            return;
        }
        var value = other.Value;
        if (value is null)
        {
            PropertySql(prop);
            _sql.Append(eq ? " IS NULL" : " IS NOT NULL");
            return;
        }
        _sql.Append('(');
        PropertySql(prop);
        _sql.Append(eq ? " IS " : " IS NOT ");
        Parameter(ValueFor(prop, value, b));
        _sql.Append(')');
    }

    private void Comparison(BinaryExpression b)
    {
        var (prop, other) = Split(b, out bool flipped);
        if (prop is null || other?.Value is null)
        {
            throw Unsupported(b, "a comparison needs a numeric property on one side and a non-null value on the other");
        }
        var t = Nullable.GetUnderlyingType(prop.Type) ?? prop.Type;
        if (t != typeof(int) && t != typeof(long) && t != typeof(float) && t != typeof(double))
        {
            throw Unsupported(b, $"<, <=, > and >= are supported on int, long, float and double properties; '{prop.ModelName}' is {prop.Type.Name}");
        }
        var op = b.NodeType switch
        {
            ExpressionType.LessThan => flipped ? ">" : "<",
            ExpressionType.LessThanOrEqual => flipped ? ">=" : "<=",
            ExpressionType.GreaterThan => flipped ? "<" : ">",
            _ => flipped ? "<=" : ">=",
        };
        // COALESCE: a null property makes the comparison false (as in C#), also under NOT.
        _sql.Append("COALESCE(");
        PropertySql(prop);
        _sql.Append(' ').Append(op).Append(' ');
        Parameter(ValueFor(prop, other.Value, b));
        _sql.Append(", 0)");
    }

    private void Call(MethodCallExpression call)
    {
        if (call.Method.Name == nameof(Enumerable.Contains))
        {
            Expression? source = null, item = null;
            if (call.Object is null && call.Arguments.Count == 2 &&
                (call.Method.DeclaringType == typeof(Enumerable) || call.Method.DeclaringType == typeof(MemoryExtensions)))
            {
                source = Unwrap(call.Arguments[0]);
                item = call.Arguments[1];
            }
            else if (call.Object is not null && call.Arguments.Count == 1 && call.Object.Type != typeof(string))
            {
                source = call.Object;
                item = call.Arguments[0];
            }
            if (source is not null && item is not null)
            {
                Contains(call, source, item);
                return;
            }
        }
        if (!ReadsRecord(call))
        {
            _sql.Append(Evaluate(call) is true ? "1" : "0");
            return;
        }
        throw Unsupported(call, $"method {call.Method.DeclaringType?.Name}.{call.Method.Name} is not supported (only Contains)");
    }

    private void Contains(Expression call, Expression source, Expression item)
    {
        if (TryProperty(source, out var listProp))
        {
            if (ReadsRecord(item))
            {
                throw Unsupported(call, "Contains on a collection property needs a value that does not read the record");
            }
            var v = Evaluate(item);
            _sql.Append("EXISTS (SELECT 1 FROM json_each(").Append(_dataColumn).Append(", ");
            Parameter(JsonPath(listProp));
            _sql.Append(") WHERE value IS ");
            Parameter(RecordCodec.ToSqlValue(v));
            _sql.Append(')');
            return;
        }
        if (!ReadsRecord(source) && TryProperty(StripConvert(item), out var scalar))
        {
            var values = Evaluate(source) as IEnumerable ?? throw Unsupported(call, "the collection is null");
            var list = values.Cast<object?>().Select(RecordCodec.ToSqlValue).ToList();
            if (list.Count == 0)
            {
                _sql.Append('0');
                return;
            }
            _sql.Append("COALESCE(");
            PropertySql(scalar);
            _sql.Append(" IN (");
            for (int i = 0; i < list.Count; i++)
            {
                if (i > 0)
                {
                    _sql.Append(", ");
                }
                Parameter(list[i]);
            }
            _sql.Append("), 0)");
            return;
        }
        throw Unsupported(call, "Contains needs a collection property and a value, or a captured collection and a property");
    }

    private static Expression Unwrap(Expression e)
    {
        // C# 14 binds array.Contains(x) to MemoryExtensions.Contains(ReadOnlySpan<T>, T) through an implicit conversion.
        if (e is MethodCallExpression { Method.Name: "op_Implicit", Arguments.Count: 1 } m)
        {
            return m.Arguments[0];
        }
        return StripConvert(e);
    }

    private static Expression StripConvert(Expression e)
    {
        while (e is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } u)
        {
            e = u.Operand;
        }
        return e;
    }

    private sealed record Operand(object? Value);

    private (PropertyModel? Prop, Operand? Other) Split(BinaryExpression b) => Split(b, out _);

    private (PropertyModel? Prop, Operand? Other) Split(BinaryExpression b, out bool flipped)
    {
        flipped = false;
        if (TryProperty(StripConvert(b.Left), out var l) && !ReadsRecord(b.Right))
        {
            return (l, new Operand(Evaluate(b.Right)));
        }
        if (TryProperty(StripConvert(b.Right), out var r) && !ReadsRecord(b.Left))
        {
            flipped = true;
            return (r, new Operand(Evaluate(b.Left)));
        }
        return (null, null);
    }

    private bool TryProperty(Expression e, out PropertyModel property)
    {
        property = null!;
        e = StripConvert(e);
        string? name = e switch
        {
            MemberExpression m when m.Expression == _record => m.Member.Name,
            // Dynamic records: r["Name"]
            MethodCallExpression { Method.Name: "get_Item", Arguments: [var arg] } c when c.Object == _record && !ReadsRecord(arg) => Evaluate(arg) as string,
            _ => null,
        };
        if (name is null)
        {
            return false;
        }
        if (!_model.PropertyMap.TryGetValue(name, out var p) || p is VectorPropertyModel)
        {
            throw Unsupported(e, $"'{name}' is not a key or data property of the collection");
        }
        property = p;
        return true;
    }

    private void PropertySql(PropertyModel p)
    {
        if (p is KeyPropertyModel)
        {
            _sql.Append(p.Type == typeof(int) || p.Type == typeof(long) ? $"CAST({_keyColumn} AS INTEGER)" : _keyColumn);
            return;
        }
        _sql.Append("json_extract(").Append(_dataColumn).Append(", ");
        Parameter(JsonPath(p));
        _sql.Append(')');
    }

    private static string JsonPath(PropertyModel p) => "$.\"" + p.StorageName.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static object? ValueFor(PropertyModel p, object? value, Expression at)
    {
        if (p is KeyPropertyModel && (p.Type == typeof(string) || p.Type == typeof(Guid)))
        {
            return value is Guid g ? g.ToString("D") : value;
        }
        try
        {
            return RecordCodec.ToSqlValue(value);
        }
        catch (NotSupportedException e)
        {
            throw Unsupported(at, e.Message);
        }
    }

    private void Parameter(object? value)
    {
        _sql.Append("$f").Append(_parameters.Count);
        _parameters.Add(value);
    }

    private bool ReadsRecord(Expression e)
    {
        var finder = new ParameterFinder(_record);
        finder.Visit(e);
        return finder.Found;
    }

    private static object? Evaluate(Expression e)
    {
        if (e is ConstantExpression c)
        {
            return c.Value;
        }
        try
        {
            return Expression.Lambda(Expression.Convert(e, typeof(object))).Compile(preferInterpretation: true).DynamicInvoke();
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw new NotSupportedException($"Filter: evaluating '{e}' failed: {ex.InnerException.Message}", ex.InnerException);
        }
    }

    private static NotSupportedException Unsupported(Expression e, string why) =>
        new($"Filter expression '{e}' is not supported by the EmbeddingGemma VectorData connector: {why}. " +
            "Supported: ==, != (also against null), <, <=, >, >= on numbers, &&, ||, !, bool properties, Contains on array/list properties and on captured collections.");

    private sealed class ParameterFinder(ParameterExpression p) : ExpressionVisitor
    {
        public bool Found { get; private set; }

        protected override Expression VisitParameter(ParameterExpression node)
        {
            if (node == p)
            {
                Found = true;
            }
            return node;
        }
    }
}
