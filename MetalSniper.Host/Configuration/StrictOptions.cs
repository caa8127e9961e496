using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Options;

namespace MetalSniper.Host.Configuration;

/// <summary>
/// Options validation that reports every error at once: unknown keys (a typo is an error, not a
/// silently ignored setting) and DataAnnotations/<see cref="IValidatableObject"/> rules, recursively
/// through nested objects, lists and dictionaries.
/// </summary>
internal sealed class StrictOptionsValidator<T>(IConfiguration configuration, string sectionName) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = OptionsChecks.Check(configuration.GetSection(sectionName), options, sectionName);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>The checks behind <see cref="StrictOptionsValidator{T}"/>, usable without DI.</summary>
internal static class OptionsChecks
{
    public static List<string> Check(IConfigurationSection section, object options, string path)
    {
        var errors = new List<string>();
        UnknownKeys(section, options.GetType(), path, errors);
        Annotations(options, path, errors, 0);
        return errors;
    }

    /// <summary>
    /// Every scalar value of <paramref name="section"/> that cannot be converted to the type of the property it sets (as the
    /// configuration binder converts: the type's <see cref="System.ComponentModel.TypeConverter"/>, invariant culture),
    /// with its full path ("Risk:MaxDailyLoss") and what was wrong.
    /// </summary>
    public static List<(string Path, string Error)> TypeErrors(IConfigurationSection section, Type type, string path)
    {
        var found = new List<(string, string)>();
        TypeErrors(section, type, path, found, 0);
        return found;
    }

    private static void TypeErrors(IConfigurationSection section, Type type, string path, List<(string, string)> found, int depth) =>
        Walk(section, type, path, depth, (s, t, p) => ScalarTypeError(s, t, p, found), unknown: null);

    /// <summary>One scalar value checked against its property's type (as the binder converts it); a failure goes to <paramref name="found"/>.</summary>
    private static void ScalarTypeError(IConfigurationSection section, Type type, string path, List<(string, string)> found)
    {
        if (section.Value is not { } text || section.GetChildren().Any())
        {
            return;
        }

        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(string) || (text.Length == 0 && Nullable.GetUnderlyingType(type) is not null))
        {
            return;
        }

        try
        {
            var converter = System.ComponentModel.TypeDescriptor.GetConverter(target);
            if (converter.ConvertFromInvariantString(text) is null && target.IsValueType)
            {
                throw new FormatException("no value");
            }

            if (target.IsEnum && !Enum.IsDefined(target, converter.ConvertFromInvariantString(text)!))
            {
                throw new FormatException("not a defined name");
            }
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException or InvalidCastException)
        {
            var expected = target.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(target))}" : $"a {FriendlyName(target)}";
            found.Add((path, $"{path}: '{text}' is not {expected}"));
        }
    }

    /// <summary>
    /// Walks <paramref name="section"/> along the options type it binds to, as the configuration binder does: a scalar property
    /// goes to <paramref name="scalar"/>; dictionaries and lists are walked per entry with their value or element type; an
    /// object's keys are matched to its properties (case-insensitive), and a key no property takes goes to
    /// <paramref name="unknown"/> (path, key, the known keys). At most 16 levels deep.
    /// </summary>
    private static void Walk(IConfigurationSection section, Type type, string path, int depth, Action<IConfigurationSection, Type, string> scalar,
        Action<string, string, IEnumerable<string>>? unknown)
    {
        if (depth > 16)
        {
            return;
        }

        if (IsScalar(type))
        {
            scalar(section, type, path);
            return;
        }

        var children = section.GetChildren();
        if ((DictionaryValueType(type) ?? ElementType(type)) is { } nested)
        {
            foreach (var c in children)
            {
                Walk(c, nested, $"{path}:{c.Key}", depth + 1, scalar, unknown);
            }

            return;
        }

        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite || !IsScalar(p.PropertyType))
            .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var c in children)
        {
            if (properties.TryGetValue(c.Key, out var property))
            {
                Walk(c, property.PropertyType, $"{path}:{c.Key}", depth + 1, scalar, unknown);
            }
            else
            {
                unknown?.Invoke(path, c.Key, properties.Keys);
            }
        }
    }

    private static string FriendlyName(Type t) => t switch
    {
        _ when t == typeof(bool) => "boolean (true or false)",
        _ when t == typeof(int) || t == typeof(long) || t == typeof(short) => "whole number",
        _ when t == typeof(decimal) || t == typeof(double) || t == typeof(float) => "number",
        _ when t == typeof(TimeSpan) => "time span ([d.]hh:mm:ss)",
        _ when t == typeof(DateTimeOffset) || t == typeof(DateTime) => "date and time (ISO 8601)",
        _ => t.Name,
    };

    private static bool IsScalar(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(TimeOnly)
            || t == typeof(DateOnly) || t == typeof(DateTimeOffset) || t == typeof(DateTime) || t == typeof(Uri) || t == typeof(Guid);
    }

    private static Type? DictionaryValueType(Type t) =>
        t.IsGenericType && t.GetGenericTypeDefinition() is var g && (g == typeof(Dictionary<,>) || g == typeof(IDictionary<,>) || g == typeof(IReadOnlyDictionary<,>))
            ? t.GetGenericArguments()[1]
            : null;

    private static Type? ElementType(Type t) =>
        t.IsArray ? t.GetElementType()
        : t.IsGenericType && t.GetGenericTypeDefinition() is var g && (g == typeof(List<>) || g == typeof(IList<>) || g == typeof(IReadOnlyList<>) || g == typeof(IEnumerable<>))
            ? t.GetGenericArguments()[0]
            : null;

    private static void UnknownKeys(IConfigurationSection section, Type type, string path, List<string> errors) =>
        Walk(section, type, path, 0,
            (s, _, p) =>
            {
                if (s.GetChildren().Select(c => c.Key).ToList() is { Count: > 0 } keys)
                {
                    errors.Add($"{p}: is a single value, but the configuration gives it keys ({string.Join(", ", keys)})");
                }
            },
            (p, key, known) => errors.Add($"{p}:{key}: unknown key (known keys: {string.Join(", ", known.Order(StringComparer.Ordinal))})"));

    private static void Annotations(object value, string path, List<string> errors, int depth)
    {
        if (depth > 16)
        {
            return;
        }

        var results = new List<ValidationResult>();
        Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
        foreach (var r in results)
        {
            var members = r.MemberNames.Any() ? string.Join(",", r.MemberNames) : "";
            errors.Add($"{path}{(members.Length > 0 ? ":" + members : "")}: {r.ErrorMessage}");
        }

        foreach (var p in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (IsScalar(p.PropertyType) || p.GetIndexParameters().Length > 0 || p.GetValue(value) is not { } child)
            {
                continue;
            }

            if (child is IDictionary dict)
            {
                foreach (DictionaryEntry e in dict)
                {
                    if (e.Value is { } v && !IsScalar(v.GetType()))
                    {
                        Annotations(v, $"{path}:{p.Name}:{e.Key}", errors, depth + 1);
                    }
                }
            }
            else if (child is IEnumerable list and not string)
            {
                var i = 0;
                foreach (var item in list)
                {
                    if (item is not null && !IsScalar(item.GetType()))
                    {
                        Annotations(item, $"{path}:{p.Name}:{i}", errors, depth + 1);
                    }

                    i++;
                }
            }
            else
            {
                Annotations(child, $"{path}:{p.Name}", errors, depth + 1);
            }
        }
    }
}

/// <summary>Registration of strictly validated options.</summary>
internal static class StrictOptionsExtensions
{
    /// <summary>Binds <typeparamref name="T"/> to <paramref name="sectionName"/>, validates it strictly, and validates on start.</summary>
    public static IServiceCollection AddStrictOptions<T>(this IServiceCollection services, string sectionName)
        where T : class
    {
        services.AddOptions<T>().BindConfiguration(sectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>>(sp => new StrictOptionsValidator<T>(sp.GetRequiredService<IConfiguration>(), sectionName));
        return services;
    }
}

/// <summary>Registers every section of <see cref="OptionSections"/> with strict binding and validation on start.</summary>
internal sealed class StrictOptionsRegistration(IServiceCollection services) : IOptionSectionVisitor
{
    public void Visit<T>(string sectionName)
        where T : class, new() => services.AddStrictOptions<T>(sectionName);
}
