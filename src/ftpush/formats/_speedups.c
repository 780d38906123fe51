/* Optional C accelerator of the push and profile parsers (decision 0105).
 *
 * The rule that keeps it correct: this code only ever ACCEPTS a line. For each
 * line of a slice it either builds the row the Python reference path would
 * build, or gives the line back to Python (its line number, an int, in the
 * output list), which then decides with the reference code and its exact error
 * messages. Anything unusual - a quote where it matters, surrounding spaces, a
 * value outside the simple forms handled here, any doubt - is given back.
 * Values of types not handled here (datetimes, arrays, ...) are converted by
 * calling the Python converter; if it raises, the line is given back.
 *
 * Memory safety: every index is checked against the string's length; inputs
 * from Python are type-checked; no fixed-size buffer is written past its end;
 * the duplicate table is reached through the buffer protocol, bounds-checked.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <math.h>

#define MAX_EXTERNAL_ID_CHARS 255
#define MAX_EMAIL_CHARS 254
#define MAX_EMAIL_LOCAL_CHARS 64
#define MAX_TOKEN_CHARS 4096
/* {"text":"","deeplink":null}: the payload of an empty Text without Deeplink. */
#define PAYLOAD_OVERHEAD 27
#define MAX_NUMBER_CHARS 64

/* What one line came to. */
enum { LINE_SKIP = 0, LINE_ROW = 1, LINE_PYTHON = 2, LINE_ERROR = -1 };

/* Attribute kinds of the profile spec (profile_txt builds it). */
enum { K_STRING = 0, K_INTEGER, K_NUMBER, K_BOOLEAN, K_DATE, K_OTHER, K_COUNT };

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t len;
} Text;

#define AT(t, i) PyUnicode_READ((t)->kind, (t)->data, (i))

static int
text_of(PyObject *obj, Text *t)
{
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(obj) < 0) {
        return -1;
    }
#endif
    t->kind = PyUnicode_KIND(obj);
    t->data = PyUnicode_DATA(obj);
    t->len = PyUnicode_GET_LENGTH(obj);
    return 0;
}

static Py_ssize_t
find_char(const Text *t, Py_ssize_t start, Py_ssize_t end, Py_UCS4 ch)
{
    for (Py_ssize_t i = start; i < end; i++) {
        if (AT(t, i) == ch) {
            return i;
        }
    }
    return -1;
}

static Py_ssize_t
rfind_char(const Text *t, Py_ssize_t start, Py_ssize_t end, Py_UCS4 ch)
{
    for (Py_ssize_t i = end - 1; i >= start; i--) {
        if (AT(t, i) == ch) {
            return i;
        }
    }
    return -1;
}

/* str.isspace() of t[start:end] (False when empty). */
static int
all_space(const Text *t, Py_ssize_t start, Py_ssize_t end)
{
    if (start >= end) {
        return 0;
    }
    for (Py_ssize_t i = start; i < end; i++) {
        if (!Py_UNICODE_ISSPACE(AT(t, i))) {
            return 0;
        }
    }
    return 1;
}

static int
is_null(const Text *t, Py_ssize_t s, Py_ssize_t e)
{
    return e - s == 4 && AT(t, s) == 'n' && AT(t, s + 1) == 'u' && AT(t, s + 2) == 'l'
           && AT(t, s + 3) == 'l';
}

static int
is_digit(Py_UCS4 c)
{
    return c >= '0' && c <= '9';
}

static int
is_alpha(Py_UCS4 c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ------------------------------------------------------------------ push --- */

/* Bytes of one character in compact JSON with ensure_ascii=False (decision 0101). */
static Py_ssize_t
json_size(Py_UCS4 c)
{
    if (c == '"' || c == '\\') {
        return 2;
    }
    if (c < 0x20) {
        return (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') ? 2 : 6;
    }
    if (c < 0x80) {
        return 1;
    }
    if (c < 0x800) {
        return 2;
    }
    return c < 0x10000 ? 3 : 4;
}

static int
is_surrogate(Py_UCS4 c)
{
    return c >= 0xD800 && c <= 0xDFFF;
}

static int
is_scheme_char(Py_UCS4 c)
{
    return is_alpha(c) || is_digit(c) || c == '+' || c == '.' || c == '-';
}

static int
ascii_lower_is(const Text *t, Py_ssize_t s, Py_ssize_t len, const char *word)
{
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = AT(t, s + i);
        if (c >= 0x80 || (Py_UCS4)(c | 0x20) != (Py_UCS4)(unsigned char)word[i]) {
            return 0;
        }
    }
    return word[len] == '\0';
}

/* deeplinks.is_deeplink(t[s:e]); e > s. */
static int
is_deeplink(const Text *t, Py_ssize_t s, Py_ssize_t e)
{
    for (Py_ssize_t i = s; i < e; i++) {
        Py_UCS4 c = AT(t, i);
        if (c < 0x80) {
            if (c <= 0x20 || c == 0x7F) {
                return 0;
            }
        }
        else if (!Py_UNICODE_ISPRINTABLE(c) || is_surrogate(c)) {
            return 0;
        }
    }
    if (!is_alpha(AT(t, s))) {
        return 0;
    }
    Py_ssize_t k = s + 1;
    while (k < e && is_scheme_char(AT(t, k))) {
        k++;
    }
    if (k + 1 >= e || AT(t, k) != ':') {
        return 0; /* no ':' after the scheme, or nothing after it */
    }
    Py_ssize_t scheme = k - s;
    if ((scheme == 4 && ascii_lower_is(t, s, 4, "http"))
        || (scheme == 5 && ascii_lower_is(t, s, 5, "https"))) {
        if (k + 3 >= e || AT(t, k + 1) != '/' || AT(t, k + 2) != '/') {
            return 0;
        }
        Py_UCS4 host = AT(t, k + 3);
        return host != '/' && host != '?' && host != '#';
    }
    return 1;
}

/* The Text t[s:e] with \n and \\ decoded (left to right), of `size` characters. */
static PyObject *
unescape(const Text *t, Py_ssize_t s, Py_ssize_t e, Py_ssize_t size)
{
    void *buffer = PyMem_Malloc((size_t)(size > 0 ? size : 1) * (size_t)t->kind);
    if (buffer == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t out = 0;
    for (Py_ssize_t i = s; i < e && out < size; i++) {
        Py_UCS4 c = AT(t, i);
        if (c == '\\' && i + 1 < e) {
            Py_UCS4 next = AT(t, i + 1);
            if (next == 'n') {
                c = '\n';
                i++;
            }
            else if (next == '\\') {
                i++;
            }
        }
        PyUnicode_WRITE(t->kind, buffer, out, c);
        out++;
    }
    PyObject *result = PyUnicode_FromKindAndData(t->kind, buffer, out);
    PyMem_Free(buffer);
    return result;
}

/* A tuple subclass instance (a NamedTuple row) holding `items`, whose references it steals. */
static PyObject *
new_row(PyTypeObject *row_type, PyObject **items, Py_ssize_t size)
{
    for (Py_ssize_t i = 0; i < size; i++) {
        if (items[i] == NULL) {
            for (Py_ssize_t j = 0; j < size; j++) {
                Py_XDECREF(items[j]);
            }
            return NULL;
        }
    }
    PyObject *row = row_type->tp_alloc(row_type, size);
    if (row == NULL) {
        for (Py_ssize_t j = 0; j < size; j++) {
            Py_DECREF(items[j]);
        }
        return NULL;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        PyTuple_SET_ITEM(row, i, items[i]);
    }
    return row;
}

/* One push line: LINE_ROW (*row set), LINE_SKIP, LINE_PYTHON or LINE_ERROR.
 * Mirrors push_csv._parse_lines + the deeplink and payload checks, for lines
 * whose ExternalID needs no cleaning and whose Text is not quoted. */
static int
push_line(PyObject *line, Py_ssize_t number, Py_ssize_t max_payload, PyTypeObject *row_type,
          PyObject **row)
{
    Text t;
    if (text_of(line, &t) < 0) {
        return LINE_ERROR;
    }
    Py_ssize_t n = t.len;
    if (n == 0) {
        return LINE_SKIP;
    }
    Py_ssize_t sep = find_char(&t, 0, n, ';');
    if (sep < 0) {
        return all_space(&t, 0, n) ? LINE_SKIP : LINE_PYTHON;
    }
    /* ExternalID: t[0:sep], taken only when cleaning would not change it. */
    if (sep == 0 || sep > MAX_EXTERNAL_ID_CHARS) {
        return LINE_PYTHON;
    }
    Py_UCS4 head = AT(&t, 0), tail = AT(&t, sep - 1);
    if (head == '"' || tail == '"' || Py_UNICODE_ISSPACE(head) || Py_UNICODE_ISSPACE(tail)) {
        return LINE_PYTHON;
    }
    Py_ssize_t text_start = sep + 1;
    if (text_start < n && AT(&t, text_start) == '"') {
        return LINE_PYTHON; /* quoted Text */
    }
    Py_ssize_t last = rfind_char(&t, text_start, n, ';');
    Py_ssize_t text_end = last < 0 ? n : last;
    Py_ssize_t link_start = last < 0 ? n : last + 1;
    /* Text: decoded size, blank or not, payload bytes. */
    Py_ssize_t size = 0;
    Py_ssize_t payload = PAYLOAD_OVERHEAD;
    int blank = 1, escaped = 0;
    for (Py_ssize_t i = text_start; i < text_end; i++) {
        Py_UCS4 c = AT(&t, i);
        if (c == '\\' && i + 1 < text_end) {
            Py_UCS4 next = AT(&t, i + 1);
            if (next == 'n') {
                c = '\n';
                i++;
                escaped = 1;
            }
            else if (next == '\\') {
                i++;
                escaped = 1;
            }
        }
        if (is_surrogate(c)) {
            return LINE_PYTHON; /* not encodable: let the reference path fail as it does */
        }
        size++;
        payload += json_size(c);
        if (blank && !Py_UNICODE_ISSPACE(c)) {
            blank = 0;
        }
    }
    if (size == 0 || blank) {
        return LINE_PYTHON;
    }
    if (link_start < n) {
        if (!is_deeplink(&t, link_start, n)) {
            return LINE_PYTHON;
        }
        payload += 2 - 4; /* "..." instead of null */
        for (Py_ssize_t i = link_start; i < n; i++) {
            payload += json_size(AT(&t, i));
        }
    }
    if (payload > max_payload) {
        return LINE_PYTHON;
    }
    PyObject *items[4];
    items[0] = PyLong_FromSsize_t(number);
    items[1] = PyUnicode_Substring(line, 0, sep);
    items[2] = escaped ? unescape(&t, text_start, text_end, size)
                       : PyUnicode_Substring(line, text_start, text_end);
    if (link_start < n) {
        items[3] = PyUnicode_Substring(line, link_start, n);
    }
    else {
        items[3] = Py_NewRef(Py_None);
    }
    *row = new_row(row_type, items, 4);
    return *row == NULL ? LINE_ERROR : LINE_ROW;
}

static int
check_row_type(PyObject *row_type, Py_ssize_t size)
{
    if (!PyType_Check(row_type) || !PyType_IsSubtype((PyTypeObject *)row_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "row_type must be a tuple subclass");
        return -1;
    }
    (void)size;
    return 0;
}

/* Append a row, or the line number of a line Python must decide. */
static int
append_result(PyObject *out, int status, PyObject *row, Py_ssize_t number, Py_ssize_t *pending)
{
    PyObject *item = row;
    if (status == LINE_PYTHON) {
        item = PyLong_FromSsize_t(number);
        if (item == NULL) {
            return -1;
        }
        (*pending)++;
    }
    int failed = PyList_Append(out, item) < 0;
    Py_DECREF(item);
    return failed ? -1 : 0;
}

static int
check_first(Py_ssize_t first, Py_ssize_t count)
{
    if (first < 0 || first > PY_SSIZE_T_MAX - count) {
        PyErr_SetString(PyExc_OverflowError, "line numbers out of range");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(push_lines_doc,
"push_lines(lines, first, max_payload_bytes, row_type, /)\n--\n\n"
"Rows of push lines `lines` (line `first` onwards), as (items, pending):\n"
"items holds a row_type(line, external_id, text, deeplink) per accepted line,\n"
"nothing for blank lines, and the line number (int) of every line the Python\n"
"reference path must decide; pending counts those.");

static PyObject *
push_lines(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *lines, *row_type;
    Py_ssize_t first, max_payload;
    if (!PyArg_ParseTuple(args, "O!nnO:push_lines", &PyList_Type, &lines, &first, &max_payload,
                          &row_type)) {
        return NULL;
    }
    if (check_row_type(row_type, 4) < 0 || check_first(first, PyList_GET_SIZE(lines)) < 0) {
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    Py_ssize_t pending = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
        PyObject *line = Py_NewRef(PyList_GET_ITEM(lines, i));
        PyObject *row = NULL;
        int status = push_line(line, first + i, max_payload, (PyTypeObject *)row_type, &row);
        Py_DECREF(line);
        if (status == LINE_ERROR) {
            goto error;
        }
        if (status != LINE_SKIP && append_result(out, status, row, first + i, &pending) < 0) {
            goto error;
        }
    }
    return Py_BuildValue("(Nn)", out, pending);
error:
    Py_DECREF(out);
    return NULL;
}

/* --------------------------------------------------------------- profile --- */

static unsigned char email_atom[128];

static int
is_email_atom(Py_UCS4 c)
{
    return c < 128 && email_atom[c];
}

/* values._EMAIL.fullmatch for ASCII addresses; 0 means "ask Python". */
static int
native_email(const Text *t, Py_ssize_t s, Py_ssize_t e)
{
    if (e - s > MAX_EMAIL_CHARS) {
        return 0;
    }
    Py_ssize_t i = s, atom = 0;
    for (; i < e; i++) {
        Py_UCS4 c = AT(t, i);
        if (c == '@') {
            break;
        }
        if (c == '.') {
            if (atom == 0) {
                return 0;
            }
            atom = 0;
        }
        else if (is_email_atom(c)) {
            atom++;
        }
        else {
            return 0;
        }
    }
    if (i >= e || atom == 0 || i - s > MAX_EMAIL_LOCAL_CHARS) {
        return 0;
    }
    i++;
    Py_ssize_t labels = 0, label = i;
    atom = 0;
    for (; i < e; i++) {
        Py_UCS4 c = AT(t, i);
        if (c == '.') {
            if (atom == 0 || AT(t, label) == '-') {
                return 0;
            }
            labels++;
            atom = 0;
            label = i + 1;
        }
        else if (is_email_atom(c)) {
            atom++;
        }
        else {
            return 0;
        }
    }
    if (labels == 0 || atom < 2) {
        return 0;
    }
    Py_UCS4 c = AT(t, label);
    return c != '-' && !is_digit(c);
}

/* values._MSISDN.fullmatch: '+', a non-zero digit, 6-15 digits in all. */
static int
native_msisdn(const Text *t, Py_ssize_t s, Py_ssize_t e)
{
    Py_ssize_t len = e - s;
    if (len < 7 || len > 16 || AT(t, s) != '+' || AT(t, s + 1) == '0') {
        return 0;
    }
    for (Py_ssize_t i = s + 1; i < e; i++) {
        if (!is_digit(AT(t, i))) {
            return 0;
        }
    }
    return 1;
}

/* A device token taken as written: 1-4096 visible ASCII characters, not quoted. */
static int
native_token(const Text *t, Py_ssize_t s, Py_ssize_t e)
{
    if (e - s > MAX_TOKEN_CHARS || AT(t, s) == '"') {
        return 0;
    }
    for (Py_ssize_t i = s; i < e; i++) {
        Py_UCS4 c = AT(t, i);
        if (c <= 0x20 || c >= 0x7F) {
            return 0;
        }
    }
    return 1;
}

/* Result of a native conversion: a new reference, or NULL with *miss set (ask
 * Python) or with an exception set. */
static PyObject *
native_string(PyObject *line, const Text *t, Py_ssize_t s, Py_ssize_t e, int *miss)
{
    if (AT(t, s) != '"') {
        return PyUnicode_Substring(line, s, e);
    }
    if (e - s < 2 || AT(t, e - 1) != '"' || find_char(t, s + 1, e - 1, '"') >= 0) {
        *miss = 1;
        return NULL;
    }
    return PyUnicode_Substring(line, s + 1, e - 1);
}

static PyObject *
native_integer(const Text *t, Py_ssize_t s, Py_ssize_t e, int *miss)
{
    Py_ssize_t i = s;
    int negative = 0;
    if (AT(t, i) == '+' || AT(t, i) == '-') {
        negative = AT(t, i) == '-';
        i++;
    }
    if (i >= e || e - i > 18) {
        *miss = 1;
        return NULL;
    }
    long long value = 0;
    for (; i < e; i++) {
        Py_UCS4 c = AT(t, i);
        if (!is_digit(c)) {
            *miss = 1;
            return NULL;
        }
        value = value * 10 + (long long)(c - '0');
    }
    return PyLong_FromLongLong(negative ? -value : value);
}

static PyObject *
native_number(const Text *t, Py_ssize_t s, Py_ssize_t e, int *miss)
{
    /* [+-]?(digits[.digits?]|.digits)([eE][+-]?digits)?, then the same
     * conversion float() uses; anything else goes to Python. */
    char buffer[MAX_NUMBER_CHARS + 1];
    Py_ssize_t len = e - s;
    if (len > MAX_NUMBER_CHARS) {
        *miss = 1;
        return NULL;
    }
    Py_ssize_t i = 0, digits = 0;
    for (Py_ssize_t j = 0; j < len; j++) {
        Py_UCS4 c = AT(t, s + j);
        if (c >= 0x80) {
            *miss = 1;
            return NULL;
        }
        buffer[j] = (char)c;
    }
    buffer[len] = '\0';
    if (i < len && (buffer[i] == '+' || buffer[i] == '-')) {
        i++;
    }
    while (i < len && is_digit((Py_UCS4)buffer[i])) {
        i++;
        digits++;
    }
    if (i < len && buffer[i] == '.') {
        i++;
        while (i < len && is_digit((Py_UCS4)buffer[i])) {
            i++;
            digits++;
        }
    }
    if (digits == 0) {
        *miss = 1;
        return NULL;
    }
    if (i < len && (buffer[i] == 'e' || buffer[i] == 'E')) {
        i++;
        if (i < len && (buffer[i] == '+' || buffer[i] == '-')) {
            i++;
        }
        Py_ssize_t exponent = 0;
        while (i < len && is_digit((Py_UCS4)buffer[i])) {
            i++;
            exponent++;
        }
        if (exponent == 0) {
            *miss = 1;
            return NULL;
        }
    }
    if (i != len) {
        *miss = 1;
        return NULL;
    }
    char *end = NULL;
    double value = PyOS_string_to_double(buffer, &end, NULL);
    if (value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        *miss = 1;
        return NULL;
    }
    if (end != buffer + len || !isfinite(value)) {
        *miss = 1;
        return NULL;
    }
    return PyFloat_FromDouble(value);
}

static PyObject *
native_boolean(const Text *t, Py_ssize_t s, Py_ssize_t e, int *miss)
{
    if (e - s == 4 && ascii_lower_is(t, s, 4, "true")) {
        Py_RETURN_TRUE;
    }
    if (e - s == 5 && ascii_lower_is(t, s, 5, "false")) {
        Py_RETURN_FALSE;
    }
    *miss = 1;
    return NULL;
}

static int
digits_value(const Text *t, Py_ssize_t s, Py_ssize_t count, int *value)
{
    *value = 0;
    for (Py_ssize_t i = s; i < s + count; i++) {
        Py_UCS4 c = AT(t, i);
        if (!is_digit(c)) {
            return 0;
        }
        *value = *value * 10 + (int)(c - '0');
    }
    return 1;
}

static PyObject *
native_date(const Text *t, Py_ssize_t s, Py_ssize_t e, int *miss)
{
    int year, month, day;
    if (e - s != 10 || AT(t, s + 4) != '-' || AT(t, s + 7) != '-' || !digits_value(t, s, 4, &year)
        || !digits_value(t, s + 5, 2, &month) || !digits_value(t, s + 8, 2, &day)) {
        *miss = 1;
        return NULL;
    }
    PyObject *date = PyDate_FromDate(year, month, day);
    if (date == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear(); /* not a real date: the reference path reports it */
        *miss = 1;
    }
    return date;
}

/* Call a Python validator/converter on t[s:e]; NULL with *miss set when it
 * raised an Exception (the line then goes to Python, which reports it). */
static PyObject *
call_python(PyObject *function, PyObject *line, Py_ssize_t s, Py_ssize_t e, int *miss)
{
    PyObject *raw = PyUnicode_Substring(line, s, e);
    if (raw == NULL) {
        return NULL;
    }
    PyObject *value = PyObject_CallOneArg(function, raw);
    Py_DECREF(raw);
    if (value == NULL && PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_Clear();
        *miss = 1;
    }
    return value;
}

typedef struct {
    Py_ssize_t index;
    PyObject *name;      /* borrowed from the spec */
    int kind;
    PyObject *convert;   /* borrowed from the spec */
} AttributeSpec;

typedef struct {
    Py_ssize_t fields;
    int filler;
    Py_ssize_t email, token, msisdn; /* msisdn < 0: no such column */
    Py_ssize_t attribute_count;
    AttributeSpec *attributes;
    PyTypeObject *row_type;
    PyObject *unchanged, *parse_email, *parse_device_token, *parse_msisdn;
    Py_ssize_t *starts; /* fields + 1 slots */
} ProfileSpec;

static int
field_index(PyObject *obj, Py_ssize_t fields, Py_ssize_t low, Py_ssize_t *out)
{
    Py_ssize_t value = PyLong_AsSsize_t(obj);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (value < low || value >= fields) {
        PyErr_SetString(PyExc_ValueError, "spec: field index out of range");
        return -1;
    }
    *out = value;
    return 0;
}

/* spec = (fields, filler, email, token, msisdn or -1,
 *         ((index, name, kind, converter), ...),
 *         row_type, UNCHANGED, parse_email, parse_device_token, parse_msisdn) */
static int
read_spec(PyObject *obj, ProfileSpec *spec)
{
    memset(spec, 0, sizeof(*spec));
    if (!PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) != 11) {
        PyErr_SetString(PyExc_TypeError, "spec must be a tuple of 11 items");
        return -1;
    }
    spec->fields = PyLong_AsSsize_t(PyTuple_GET_ITEM(obj, 0));
    if (spec->fields == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (spec->fields < 3 || spec->fields > (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "spec: bad number of fields");
        return -1;
    }
    spec->filler = PyObject_IsTrue(PyTuple_GET_ITEM(obj, 1));
    if (spec->filler < 0) {
        return -1;
    }
    if (spec->filler && spec->fields < 5) {
        PyErr_SetString(PyExc_ValueError, "spec: too few fields for ~~~ after extID");
        return -1;
    }
    if (field_index(PyTuple_GET_ITEM(obj, 2), spec->fields, 1, &spec->email) < 0
        || field_index(PyTuple_GET_ITEM(obj, 3), spec->fields, 1, &spec->token) < 0
        || field_index(PyTuple_GET_ITEM(obj, 4), spec->fields, -1, &spec->msisdn) < 0) {
        return -1;
    }
    PyObject *attributes = PyTuple_GET_ITEM(obj, 5);
    if (!PyTuple_Check(attributes)) {
        PyErr_SetString(PyExc_TypeError, "spec: attributes must be a tuple");
        return -1;
    }
    spec->row_type = (PyTypeObject *)PyTuple_GET_ITEM(obj, 6);
    if (check_row_type((PyObject *)spec->row_type, 6) < 0) {
        return -1;
    }
    spec->unchanged = PyTuple_GET_ITEM(obj, 7);
    spec->parse_email = PyTuple_GET_ITEM(obj, 8);
    spec->parse_device_token = PyTuple_GET_ITEM(obj, 9);
    spec->parse_msisdn = PyTuple_GET_ITEM(obj, 10);
    if (!PyCallable_Check(spec->parse_email) || !PyCallable_Check(spec->parse_device_token)
        || !PyCallable_Check(spec->parse_msisdn)) {
        PyErr_SetString(PyExc_TypeError, "spec: validators must be callable");
        return -1;
    }
    spec->attribute_count = PyTuple_GET_SIZE(attributes);
    spec->attributes = PyMem_New(AttributeSpec, spec->attribute_count + 1);
    spec->starts = PyMem_New(Py_ssize_t, spec->fields + 1);
    if (spec->attributes == NULL || spec->starts == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < spec->attribute_count; i++) {
        PyObject *item = PyTuple_GET_ITEM(attributes, i);
        AttributeSpec *a = &spec->attributes[i];
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4) {
            PyErr_SetString(PyExc_TypeError, "spec: an attribute is (index, name, kind, converter)");
            return -1;
        }
        if (field_index(PyTuple_GET_ITEM(item, 0), spec->fields, 1, &a->index) < 0) {
            return -1;
        }
        a->name = PyTuple_GET_ITEM(item, 1);
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(item, 2));
        if (kind == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (kind < 0 || kind >= K_COUNT || !PyUnicode_Check(a->name)
            || !PyCallable_Check(PyTuple_GET_ITEM(item, 3))) {
            PyErr_SetString(PyExc_ValueError, "spec: bad attribute");
            return -1;
        }
        a->kind = (int)kind;
        a->convert = PyTuple_GET_ITEM(item, 3);
    }
    return 0;
}

static void
free_spec(ProfileSpec *spec)
{
    PyMem_Free(spec->attributes);
    PyMem_Free(spec->starts);
}

/* Email or msisdn column: "" unchanged, "null" None, else the validated value.
 * NULL with *miss: ask Python; NULL alone: an exception. */
static PyObject *
identity_setting(const ProfileSpec *spec, PyObject *line, const Text *t, Py_ssize_t s,
                 Py_ssize_t e, int (*native)(const Text *, Py_ssize_t, Py_ssize_t),
                 PyObject *parse, int *miss)
{
    if (s == e) {
        return Py_NewRef(spec->unchanged);
    }
    if (is_null(t, s, e)) {
        Py_RETURN_NONE;
    }
    if (native(t, s, e)) {
        return PyUnicode_Substring(line, s, e);
    }
    PyObject *value = call_python(parse, line, s, e, miss);
    if (value == NULL) {
        return NULL;
    }
    PyObject *text = PyObject_Str(value); /* as profile_txt._setting does */
    Py_DECREF(value);
    return text;
}

static PyObject *
attribute_value(const AttributeSpec *a, PyObject *line, const Text *t, Py_ssize_t s,
                Py_ssize_t e, int *miss)
{
    PyObject *value = NULL;
    switch (a->kind) {
    case K_STRING:
        value = native_string(line, t, s, e, miss);
        break;
    case K_INTEGER:
        value = native_integer(t, s, e, miss);
        break;
    case K_NUMBER:
        value = native_number(t, s, e, miss);
        break;
    case K_BOOLEAN:
        value = native_boolean(t, s, e, miss);
        break;
    case K_DATE:
        value = native_date(t, s, e, miss);
        break;
    default:
        *miss = 1;
    }
    if (value != NULL || !*miss) {
        return value;
    }
    *miss = 0;
    return call_python(a->convert, line, s, e, miss);
}

#define FIELD_START(i) (starts[(i)])
#define FIELD_END(i) (starts[(i) + 1] - 1)

/* One profile line; mirrors profile_txt._Layout.parse_line for lines with the
 * right number of '~' whose every field converts. */
static int
profile_line(const ProfileSpec *spec, PyObject *line, Py_ssize_t number, PyObject **row)
{
    Text t;
    if (text_of(line, &t) < 0) {
        return LINE_ERROR;
    }
    Py_ssize_t n = t.len;
    if (n == 0 || all_space(&t, 0, n)) {
        return LINE_SKIP;
    }
    Py_ssize_t *starts = spec->starts;
    Py_ssize_t field = 0;
    starts[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (AT(&t, i) == '~') {
            field++;
            if (field >= spec->fields) {
                return LINE_PYTHON;
            }
            starts[field] = i + 1;
        }
    }
    if (field != spec->fields - 1) {
        return LINE_PYTHON;
    }
    starts[spec->fields] = n + 1;
    /* ExternalID, taken only when stripping and unquoting would not change it. */
    Py_ssize_t s = FIELD_START(0), e = FIELD_END(0);
    if (e == s || e - s > MAX_EXTERNAL_ID_CHARS) {
        return LINE_PYTHON;
    }
    Py_UCS4 head = AT(&t, s), tail = AT(&t, e - 1);
    if (head == '"' || Py_UNICODE_ISSPACE(head) || Py_UNICODE_ISSPACE(tail)) {
        return LINE_PYTHON;
    }
    if (spec->filler
        && (FIELD_END(1) > FIELD_START(1) || FIELD_END(2) > FIELD_START(2))) {
        return LINE_PYTHON;
    }
    int miss = 0;
    PyObject *items[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    PyObject *values = NULL;
    items[1] = PyUnicode_Substring(line, s, e);
    if (items[1] == NULL) {
        goto fail;
    }
    items[2] = identity_setting(spec, line, &t, FIELD_START(spec->email), FIELD_END(spec->email),
                                native_email, spec->parse_email, &miss);
    if (items[2] == NULL) {
        goto fail;
    }
    s = FIELD_START(spec->token);
    e = FIELD_END(spec->token);
    if (s == e) {
        items[3] = Py_NewRef(Py_None);
    }
    else if (is_null(&t, s, e)) {
        miss = 1; /* a token cannot be removed: the reference path says so */
        goto fail;
    }
    else if (native_token(&t, s, e)) {
        items[3] = PyUnicode_Substring(line, s, e);
    }
    else {
        items[3] = call_python(spec->parse_device_token, line, s, e, &miss);
    }
    if (items[3] == NULL) {
        goto fail;
    }
    if (spec->msisdn >= 0) {
        items[4] = identity_setting(spec, line, &t, FIELD_START(spec->msisdn),
                                    FIELD_END(spec->msisdn), native_msisdn, spec->parse_msisdn,
                                    &miss);
    }
    else {
        items[4] = Py_NewRef(spec->unchanged);
    }
    if (items[4] == NULL) {
        goto fail;
    }
    values = PyDict_New();
    if (values == NULL) {
        goto fail;
    }
    for (Py_ssize_t k = 0; k < spec->attribute_count; k++) {
        const AttributeSpec *a = &spec->attributes[k];
        s = FIELD_START(a->index);
        e = FIELD_END(a->index);
        if (s == e) {
            continue;
        }
        PyObject *value = is_null(&t, s, e) ? Py_NewRef(Py_None)
                                            : attribute_value(a, line, &t, s, e, &miss);
        if (value == NULL) {
            goto fail;
        }
        int failed = PyDict_SetItem(values, a->name, value) < 0;
        Py_DECREF(value);
        if (failed) {
            goto fail;
        }
    }
    items[0] = PyLong_FromSsize_t(number);
    items[5] = values;
    *row = new_row(spec->row_type, items, 6);
    return *row == NULL ? LINE_ERROR : LINE_ROW;
fail:
    for (int i = 0; i < 6; i++) {
        Py_XDECREF(items[i]);
    }
    Py_XDECREF(values);
    if (miss && !PyErr_Occurred()) {
        return LINE_PYTHON;
    }
    return LINE_ERROR;
}

PyDoc_STRVAR(profile_lines_doc,
"profile_lines(lines, first, spec, /)\n--\n\n"
"Rows of profile data lines `lines` (line `first` onwards), as (items, pending):\n"
"a row per accepted line, nothing for blank lines, and the line number (int)\n"
"of every line the Python reference path must decide. `spec` is built by\n"
"profile_txt._Layout.");

static PyObject *
profile_lines(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *lines, *spec_obj;
    Py_ssize_t first;
    if (!PyArg_ParseTuple(args, "O!nO!:profile_lines", &PyList_Type, &lines, &first,
                          &PyTuple_Type, &spec_obj)) {
        return NULL;
    }
    if (check_first(first, PyList_GET_SIZE(lines)) < 0) {
        return NULL;
    }
    ProfileSpec spec;
    if (read_spec(spec_obj, &spec) < 0) {
        free_spec(&spec);
        return NULL;
    }
    Py_INCREF(spec_obj); /* keeps the borrowed spec items alive while converters run */
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        goto error;
    }
    Py_ssize_t pending = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
        PyObject *line = Py_NewRef(PyList_GET_ITEM(lines, i));
        PyObject *row = NULL;
        int status = profile_line(&spec, line, first + i, &row);
        Py_DECREF(line);
        if (status == LINE_ERROR) {
            goto error;
        }
        if (status != LINE_SKIP && append_result(out, status, row, first + i, &pending) < 0) {
            goto error;
        }
    }
    free_spec(&spec);
    Py_DECREF(spec_obj);
    return Py_BuildValue("(Nn)", out, pending);
error:
    Py_XDECREF(out);
    free_spec(&spec);
    Py_DECREF(spec_obj);
    return NULL;
}

/* ------------------------------------------------------------ duplicates --- */

PyDoc_STRVAR(fingerprint_add_doc,
"fingerprint_add(table, mask, keys, /)\n--\n\n"
"The loop of FingerprintSet.add_many: record hash(key) of every key in the\n"
"open-addressing table (a writable buffer of 64-bit integers, mask + 1 of\n"
"them, mask + 1 a power of two); return the indexes of keys seen before.");

static PyObject *
fingerprint_add(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *table_obj, *keys;
    Py_ssize_t mask;
    if (!PyArg_ParseTuple(args, "OnO!:fingerprint_add", &table_obj, &mask, &PyList_Type, &keys)) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(table_obj, &view, PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_ND) < 0) {
        return NULL;
    }
    PyObject *seen = NULL;
    if (view.itemsize != 8 || view.format == NULL || strcmp(view.format, "q") != 0
        || view.ndim != 1) {
        PyErr_SetString(PyExc_TypeError, "table must be an array('q')");
        goto done;
    }
    Py_ssize_t slots = view.len / 8;
    if (mask < 0 || (mask & (mask + 1)) != 0 || mask >= slots) {
        PyErr_SetString(PyExc_ValueError, "mask must be 2**k - 1, below the table size");
        goto done;
    }
    long long *table = (long long *)view.buf;
    unsigned long long umask = (unsigned long long)mask;
    seen = PyList_New(0);
    if (seen == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        PyObject *key = Py_NewRef(PyList_GET_ITEM(keys, i));
        Py_hash_t hash = PyObject_Hash(key);
        Py_DECREF(key);
        if (hash == -1 && PyErr_Occurred()) {
            Py_CLEAR(seen);
            goto done;
        }
        long long fingerprint = (long long)hash;
        unsigned long long slot = (unsigned long long)fingerprint & umask;
        Py_ssize_t probes = 0;
        int found = 0;
        while (table[slot]) {
            if (table[slot] == fingerprint) {
                found = 1;
                break;
            }
            slot = (slot + 1) & umask;
            if (++probes > mask) {
                PyErr_SetString(PyExc_RuntimeError, "the fingerprint table is full");
                Py_CLEAR(seen);
                goto done;
            }
        }
        if (found) {
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(seen, index) < 0) {
                Py_XDECREF(index);
                Py_CLEAR(seen);
                goto done;
            }
            Py_DECREF(index);
        }
        else {
            table[slot] = fingerprint;
        }
    }
done:
    PyBuffer_Release(&view);
    return seen;
}

/* ---------------------------------------------------------------- module --- */

static PyMethodDef methods[] = {
    {"push_lines", push_lines, METH_VARARGS, push_lines_doc},
    {"profile_lines", profile_lines, METH_VARARGS, profile_lines_doc},
    {"fingerprint_add", fingerprint_add, METH_VARARGS, fingerprint_add_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ftpush.formats._speedups",
    .m_doc = "C accelerator of ftpush.formats (optional; see decision 0105).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    static const char *not_atom = "@\"(),.:;<>[]\\";
    for (int c = 0; c < 128; c++) {
        email_atom[c] = c > 0x20 && c < 0x7F && strchr(not_atom, c) == NULL;
    }
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "STRING", K_STRING) < 0
        || PyModule_AddIntConstant(m, "INTEGER", K_INTEGER) < 0
        || PyModule_AddIntConstant(m, "NUMBER", K_NUMBER) < 0
        || PyModule_AddIntConstant(m, "BOOLEAN", K_BOOLEAN) < 0
        || PyModule_AddIntConstant(m, "DATE", K_DATE) < 0
        || PyModule_AddIntConstant(m, "OTHER", K_OTHER) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
