# Generates ${CMAKE_BINARY_DIR}/generated/sql/embedded.h from every *.sql file
# below the part folders, so SQL can live in files that psql can also run.
function(slipway_embed_sql target root)
  file(GLOB_RECURSE sql_files CONFIGURE_DEPENDS
    ${root}/common/*.sql ${root}/schema/*.sql ${root}/replicator/*.sql
    ${root}/cutover/*.sql ${root}/cli/*.sql)
  set(out ${CMAKE_BINARY_DIR}/generated/sql/embedded.h)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DFILES="${sql_files}"
            -P ${root}/cmake/EmbedSqlGen.cmake
    DEPENDS ${sql_files} ${root}/cmake/EmbedSqlGen.cmake
    COMMENT "Embedding SQL files")
  add_custom_target(${target} DEPENDS ${out})
endfunction()
