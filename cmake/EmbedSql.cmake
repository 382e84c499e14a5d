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

# The same for the HTTP server's pages: cli/web/*.html become
# `slipway::web::NAME` in generated/web/embedded.h.
function(slipway_embed_web target root)
  file(GLOB web_files CONFIGURE_DEPENDS ${root}/cli/web/*.html)
  set(out ${CMAKE_BINARY_DIR}/generated/web/embedded.h)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DFILES="${web_files}" -DNAMESPACE=web
            -P ${root}/cmake/EmbedSqlGen.cmake
    DEPENDS ${web_files} ${root}/cmake/EmbedSqlGen.cmake
    COMMENT "Embedding web pages")
  add_custom_target(${target} DEPENDS ${out})
endfunction()
