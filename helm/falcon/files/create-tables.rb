# Creates Falcon's read-model tables in HBase; safe to run again.
# Run with: hbase shell -n create-tables.rb
# One version per cell (the read models keep only the latest), Snappy
# compression, ROW bloom filters for the point gets; messages and the
# account index are pre-split on the first character of their keys (ULIDs
# and account ids), so writes spread from the start (readmodel.Splits).
ns = 'falcon'
create_namespace(ns) unless list_namespace.include?(ns)
ulid = %w[1 2 3 4 5 6 7 8 9 A B C D E F G H J K M N P Q R S T V W X Y Z]
tables = {
  'threads' => { families: %w[d m a], splits: nil },
  'messages' => { families: %w[d], splits: ulid },
  'account_threads' => { families: %w[d], splits: ulid + ('a'..'z').to_a },
}
tables.each do |name, t|
  full = "#{ns}:#{name}"
  if exists?(full)
    puts "#{full} exists"
    next
  end
  families = t[:families].map { |f| { NAME => f, VERSIONS => 1, COMPRESSION => 'SNAPPY', BLOOMFILTER => 'ROW' } }
  args = [full] + families
  args << { SPLITS => t[:splits] } if t[:splits]
  create(*args)
  puts "#{full} created"
end
exit
