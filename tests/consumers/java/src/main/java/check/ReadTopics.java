package check;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.SchemaStore;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads topics written without a registry (Avro single-object encoding) the way
 * docs/SCHEMAS.md describes, and prints what it finds, one tab-separated line each:
 *
 * <pre>
 * fingerprint  FILE  HEX                (each exported schema, as Avro's Java API computes it)
 * record  TOPIC  OFFSET  GENERIC_BRANCH  GENERATED_CLASS  RECEIVE_TIME
 * </pre>
 *
 * Arguments: bootstrap servers, the folder of `bridge schemas export` (every version), the
 * number of records to read, then the topics.
 */
public final class ReadTopics {
    public static void main(String[] args) throws IOException {
        String bootstrap = args[0];
        Path export = Path.of(args[1]);
        int wanted = Integer.parseInt(args[2]);
        List<String> topics = List.of(args).subList(3, args.length);

        // Every version a value may have been written with, each with its own parser (two
        // versions of a schema define the same names).
        SchemaStore.Cache writers = new SchemaStore.Cache();
        try (Stream<Path> files = Files.walk(export)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".avsc")).sorted().toList()) {
                Schema schema = new Schema.Parser().parse(file.toFile());
                writers.addSchema(schema);
                System.out.printf("fingerprint\t%s\t%016x%n", export.relativize(file),
                        SchemaNormalization.parsingFingerprint64(schema));
            }
        }

        GenericData generic = new GenericData();
        generic.addLogicalTypeConversion(new TimeConversions.TimestampMillisConversion());
        generic.addLogicalTypeConversion(new TimeConversions.TimestampMicrosConversion());

        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "java-consumer-check");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props,
                new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(topics);
            int seen = 0;
            long deadline = System.currentTimeMillis() + 60_000;
            while (seen < wanted && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofSeconds(1))) {
                    byte[] value = record.value();
                    // The writer schema, found by the fingerprint in the value's bytes.
                    long fingerprint = java.nio.ByteBuffer.wrap(value, 2, 8)
                            .order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
                    Schema writer = writers.findByFingerprint(fingerprint);
                    GenericRecord decoded = new BinaryMessageDecoder<GenericRecord>(generic, writer,
                            writers).decode(value);
                    // Generated classes: the class of the writer's record name, read with its
                    // own (latest) schema.
                    Class<?> generated = SpecificData.get().getClass(writer);
                    Schema latest = SpecificData.get().getSchema(generated);
                    SpecificRecordBase specific = new BinaryMessageDecoder<SpecificRecordBase>(
                            SpecificData.get(), latest, writers).decode(value);
                    Object payload = decoded.get("payload");
                    String branch = payload instanceof GenericRecord g ? g.getSchema().getFullName() : "-";
                    Object specificPayload = hasField(latest, "payload") ? specific.get("payload") : null;
                    System.out.printf("record\t%s\t%d\t%s\t%s\t%s%n", record.topic(), record.offset(),
                            branch, specificPayload == null ? "-" : specificPayload.getClass().getName(),
                            specific.get("receive_time"));
                    seen++;
                }
            }
        }
    }

    private static boolean hasField(Schema schema, String name) {
        return schema.getField(name) != null;
    }
}
