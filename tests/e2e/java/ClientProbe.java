// Probe of what a pgjdbc client sees, printed as lines, so that a run directly
// against Postgres and a run through pgaccel can be compared line by line.
//
// usage: java -cp postgresql.jar:. ClientProbe <jdbc-url> <user> <password> [section...]
// Each section starts with "== name"; a section that throws prints the
// exception's class and SQLState instead of stopping the others.

import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class ClientProbe {
    static String url, user, password;

    interface Section { void run(Connection c) throws Exception; }

    public static void main(String[] args) throws Exception {
        url = args[0]; user = args[1]; password = args[2];
        LinkedHashMap<String, Section> sections = new LinkedHashMap<>();
        sections.put("metadata", ClientProbe::metadata);
        sections.put("prepared", ClientProbe::prepared);
        sections.put("fetchsize", ClientProbe::fetchsize);
        sections.put("batch", ClientProbe::batch);
        sections.put("errors", ClientProbe::errors);
        sections.put("warnings", ClientProbe::warnings);
        sections.put("transactions", ClientProbe::transactions);
        List<String> wanted = args.length > 3 ? Arrays.asList(args).subList(3, args.length)
                                              : new ArrayList<>(sections.keySet());
        for (String name : wanted) {
            System.out.println("== " + name);
            try (Connection c = connect()) {
                sections.get(name).run(c);
            } catch (SQLException e) {
                System.out.println("FAILED " + e.getClass().getName() + " " + e.getSQLState() + " " + e.getMessage());
            } catch (Exception e) {
                System.out.println("FAILED " + e);
            }
        }
        System.out.flush();
    }

    static Connection connect() throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("prepareThreshold", "5");
        p.setProperty("ApplicationName", "ClientProbe");
        return DriverManager.getConnection(url, p);
    }

    static void exec(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) { s.execute(sql); }
    }

    static String row(ResultSet rs, String... cols) throws SQLException {
        StringBuilder b = new StringBuilder();
        for (String col : cols) {
            if (b.length() > 0) b.append(" | ");
            b.append(col).append('=').append(rs.getString(col));
        }
        return b.toString();
    }

    static void dump(ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        StringBuilder h = new StringBuilder("columns:");
        for (int i = 1; i <= md.getColumnCount(); i++)
            h.append(' ').append(md.getColumnLabel(i)).append(':').append(md.getColumnTypeName(i))
             .append('/').append(md.getColumnType(i)).append('/').append(md.getPrecision(i))
             .append('/').append(md.getScale(i)).append('/').append(md.isNullable(i));
        System.out.println(h);
        while (rs.next()) {
            StringBuilder b = new StringBuilder("row:");
            for (int i = 1; i <= md.getColumnCount(); i++) b.append(' ').append(rs.getString(i));
            System.out.println(b);
        }
    }

    // DatabaseMetaData: the catalog queries pgjdbc runs for tools and ORMs
    static void metadata(Connection c) throws Exception {
        // the other sections' tables too: the two runs must see the same catalog
        exec(c, "DROP TABLE IF EXISTS jt_child, jt_meta, jt_batch, jt_err, jt_tx");
        exec(c, "CREATE TABLE jt_meta (id serial PRIMARY KEY, name varchar(50) NOT NULL, "
              + "price numeric(10,2) DEFAULT 0, created timestamptz DEFAULT now(), tags text[], "
              + "flag boolean, doc jsonb, u uuid)");
        exec(c, "COMMENT ON TABLE jt_meta IS 'probe table'");
        exec(c, "COMMENT ON COLUMN jt_meta.name IS 'the name'");
        exec(c, "CREATE UNIQUE INDEX jt_meta_name ON jt_meta (name)");
        exec(c, "CREATE TABLE jt_child (id int PRIMARY KEY, meta_id int REFERENCES jt_meta(id))");
        DatabaseMetaData md = c.getMetaData();
        System.out.println("product " + md.getDatabaseProductName() + " " + md.getDatabaseProductVersion()
                           + " " + md.getDatabaseMajorVersion() + "." + md.getDatabaseMinorVersion());
        System.out.println("user " + md.getUserName() + " readOnly " + md.isReadOnly());
        try (ResultSet rs = md.getTables(null, "public", "jt_%", new String[]{"TABLE"})) {
            while (rs.next()) System.out.println("table " + row(rs, "TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME",
                                                                "TABLE_TYPE", "REMARKS"));
        }
        try (ResultSet rs = md.getColumns(null, "public", "jt_meta", "%")) {
            while (rs.next()) System.out.println("column " + row(rs, "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME",
                    "COLUMN_SIZE", "DECIMAL_DIGITS", "NULLABLE", "COLUMN_DEF", "ORDINAL_POSITION",
                    "IS_NULLABLE", "IS_AUTOINCREMENT", "REMARKS"));
        }
        try (ResultSet rs = md.getPrimaryKeys(null, "public", "jt_meta")) {
            while (rs.next()) System.out.println("pk " + row(rs, "COLUMN_NAME", "KEY_SEQ", "PK_NAME"));
        }
        try (ResultSet rs = md.getImportedKeys(null, "public", "jt_child")) {
            while (rs.next()) System.out.println("fk " + row(rs, "PKTABLE_NAME", "PKCOLUMN_NAME", "FKTABLE_NAME",
                                                             "FKCOLUMN_NAME", "FK_NAME", "DELETE_RULE"));
        }
        try (ResultSet rs = md.getIndexInfo(null, "public", "jt_meta", false, false)) {
            while (rs.next()) System.out.println("index " + row(rs, "INDEX_NAME", "NON_UNIQUE", "COLUMN_NAME",
                                                                "ORDINAL_POSITION"));
        }
        try (ResultSet rs = md.getSchemas()) {
            while (rs.next()) System.out.println("schema " + row(rs, "TABLE_SCHEM"));
        }
    }

    // A PreparedStatement run 10 times: from the 5th run pgjdbc uses a named server-side statement
    static void prepared(Connection c) throws Exception {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT ?::int + 1 AS i, ?::text || '!' AS t, ?::timestamp + interval '1 day' AS ts, "
                + "?::numeric * 2 AS n, ?::int8[] AS arr")) {
            org.postgresql.PGStatement pg = ps.unwrap(org.postgresql.PGStatement.class);
            for (int k = 0; k < 10; k++) {
                ps.setInt(1, k * 1000);
                ps.setString(2, "row " + k);
                ps.setTimestamp(3, Timestamp.valueOf("2024-02-28 12:34:56.789"));
                ps.setBigDecimal(4, new BigDecimal("12345.6789").add(BigDecimal.valueOf(k)));
                ps.setArray(5, c.createArrayOf("int8", new Long[]{(long) k, null, 9L}));
                try (ResultSet rs = ps.executeQuery()) {
                    System.out.println("run " + k + " server-prepared " + pg.isUseServerPrepare());
                    dump(rs);
                }
            }
        }
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT statement, parameter_types::text FROM pg_prepared_statements "
                                           + "WHERE statement LIKE '%AS arr' ORDER BY 1")) {
            while (rs.next()) System.out.println("server statement " + rs.getString(1) + " " + rs.getString(2));
        }
    }

    // setFetchSize inside a transaction: a portal read 100 rows at a time (PortalSuspended)
    static void fetchsize(Connection c) throws Exception {
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT g, md5(g::text) AS h FROM generate_series(1, ?) g ORDER BY g")) {
            ps.setFetchSize(100);
            ps.setInt(1, 10000);
            long n = 0, sum = 0;
            String first = null, last = null;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    n++;
                    sum += rs.getLong(1);
                    last = rs.getString(2);
                    if (first == null) first = last;
                    if (n == 5000) {   // another statement on the connection while the portal is open
                        try (Statement s = c.createStatement(); ResultSet r2 = s.executeQuery("SELECT 'mid'")) {
                            r2.next();
                            System.out.println("midway " + r2.getString(1));
                        }
                    }
                }
            }
            System.out.println("rows " + n + " sum " + sum + " first " + first + " last " + last);
        }
        try (Statement s = c.createStatement()) {
            s.setFetchSize(7);
            try (ResultSet rs = s.executeQuery("SELECT g FROM generate_series(1, 50) g")) {
                int n = 0;
                while (rs.next()) n++;
                System.out.println("statement rows " + n);
            }
        }
        c.commit();
    }

    static void batch(Connection c) throws Exception {
        exec(c, "DROP TABLE IF EXISTS jt_batch");
        exec(c, "CREATE TABLE jt_batch (id int PRIMARY KEY, v text, at date)");
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO jt_batch VALUES (?, ?, ?)")) {
            for (int i = 0; i < 1000; i++) {
                ps.setInt(1, i);
                ps.setString(2, i % 10 == 0 ? null : "v" + i);
                ps.setDate(3, java.sql.Date.valueOf("2024-01-01"));
                ps.addBatch();
            }
            int[] counts = ps.executeBatch();
            int total = 0;
            for (int k : counts) total += k;
            System.out.println("batch results " + counts.length + " total " + total);
        }
        try (Statement s = c.createStatement()) {
            s.addBatch("UPDATE jt_batch SET v = 'u' WHERE id < 10");
            s.addBatch("DELETE FROM jt_batch WHERE id >= 990");
            s.addBatch("INSERT INTO jt_batch VALUES (5000, 'x', NULL)");
            System.out.println("statement batch " + Arrays.toString(s.executeBatch()));
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO jt_batch VALUES (?, 'dup', NULL)")) {
            ps.setInt(1, 7000);
            ps.addBatch();
            ps.setInt(1, 1);   // duplicate key
            ps.addBatch();
            ps.executeBatch();
        } catch (BatchUpdateException e) {
            System.out.println("batch error " + e.getSQLState() + " counts " + Arrays.toString(e.getUpdateCounts())
                               + " next " + (e.getNextException() == null ? null : e.getNextException().getSQLState()));
        }
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*), count(v), sum(id) FROM jt_batch")) {
            dump(rs);
        }
    }

    static void errors(Connection c) throws Exception {
        exec(c, "DROP TABLE IF EXISTS jt_err");
        exec(c, "CREATE TABLE jt_err (id int CONSTRAINT jt_err_pk PRIMARY KEY)");
        exec(c, "INSERT INTO jt_err VALUES (1)");
        String[] bad = {"SELECT 1/0", "SELECT * FROM no_such_table", "SELECT 1 FROM WHERE",
                        "INSERT INTO jt_err VALUES (1)", "SELECT 'x'::int"};
        for (String sql : bad) {
            for (boolean prepared : new boolean[]{false, true}) {
                try {
                    if (prepared) {
                        try (PreparedStatement ps = c.prepareStatement(sql)) { ps.execute(); }
                    } else {
                        exec(c, sql);
                    }
                    System.out.println("no error for " + sql);
                } catch (SQLException e) {
                    String extra = "";
                    if (e instanceof org.postgresql.util.PSQLException) {
                        org.postgresql.util.ServerErrorMessage m = ((org.postgresql.util.PSQLException) e)
                                .getServerErrorMessage();
                        if (m != null)
                            extra = " severity=" + m.getSeverity() + " position=" + m.getPosition()
                                    + " constraint=" + m.getConstraint() + " table=" + m.getTable()
                                    + " detail=" + m.getDetail() + " routine=" + m.getRoutine();
                    }
                    System.out.println((prepared ? "prepared " : "simple ") + e.getSQLState() + " "
                                       + e.getMessage().replace('\n', ' ') + extra);
                }
            }
        }
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 'still usable'")) {
            rs.next();
            System.out.println(rs.getString(1));
        }
    }

    static void warnings(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("DO $$ BEGIN RAISE NOTICE 'note %', 1; RAISE WARNING 'careful'; END $$");
            for (SQLWarning w = s.getWarnings(); w != null; w = w.getNextWarning())
                System.out.println("warning " + w.getSQLState() + " " + w.getMessage());
        }
    }

    static void transactions(Connection c) throws Exception {
        exec(c, "DROP TABLE IF EXISTS jt_tx");
        exec(c, "CREATE TABLE jt_tx (a int PRIMARY KEY)");
        c.setAutoCommit(false);
        exec(c, "INSERT INTO jt_tx VALUES (1)");
        Savepoint sp = c.setSavepoint("sp1");
        exec(c, "INSERT INTO jt_tx VALUES (2)");
        try {
            exec(c, "INSERT INTO jt_tx VALUES (2)");
        } catch (SQLException e) {
            System.out.println("in tx " + e.getSQLState());
        }
        try {
            exec(c, "SELECT 1");
        } catch (SQLException e) {
            System.out.println("aborted " + e.getSQLState());
        }
        c.rollback(sp);
        exec(c, "INSERT INTO jt_tx VALUES (3)");
        c.commit();
        exec(c, "INSERT INTO jt_tx VALUES (4)");
        c.rollback();
        c.setAutoCommit(true);
        c.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
        c.setAutoCommit(false);
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('transaction_isolation'), "
                                           + "array_agg(a ORDER BY a)::text FROM jt_tx")) {
            dump(rs);
        }
        c.commit();
    }
}
